import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "@fame/config";
import { exportJWK, generateKeyPair } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { oauth2ConfigFromEnv } from "../src/index.js";

let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "fame-oauth2-cfg-"));
  const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  writeFileSync(
    join(dir, "key.json"),
    JSON.stringify({ ...(await exportJWK(privateKey)), kid: "k", alg: "EdDSA" }),
  );
  writeFileSync(
    join(dir, "clients.json"),
    JSON.stringify({
      clients: [{ client_id: "a", client_secret: "0123456789abcdef", scopes: ["node.connect"] }],
    }),
  );
});

const env = () => ({
  FAME_DEV_INSECURE_HTTP: "1",
  FAME_OAUTH2_SIGNING_KEY_FILE: join(dir, "key.json"),
  FAME_OAUTH2_CLIENTS_FILE: join(dir, "clients.json"),
});

async function settingOf(e: NodeJS.ProcessEnv): Promise<string | undefined> {
  const err = await oauth2ConfigFromEnv(e).then(
    () => undefined,
    (x: unknown) => x,
  );
  return err instanceof ConfigError ? err.setting : err === undefined ? undefined : String(err);
}

describe("oauth2ConfigFromEnv", () => {
  it("defaults", async () => {
    const c = await oauth2ConfigFromEnv(env());
    expect(c).toMatchObject({
      host: "127.0.0.1",
      port: 8443,
      tls: null,
      issuer: "https://localhost:8443",
      audience: "fame.fabric",
      tokenTtlSec: 3600,
    });
    expect(c.clients.map((x) => x.clientId)).toEqual(["a"]);
    expect(c.signingKey.kid).toBe("k");
  });

  it("a single client from the environment replaces the file", async () => {
    const c = await oauth2ConfigFromEnv({
      ...env(),
      FAME_OAUTH2_CLIENT_ID: "solo",
      FAME_OAUTH2_CLIENT_SECRET: "a-long-enough-secret",
    });
    expect(c.clients).toEqual([
      { clientId: "solo", clientSecret: "a-long-enough-secret", scopes: ["node.connect"] },
    ]);
  });

  it("names the bad setting", async () => {
    expect(await settingOf({ ...env(), FAME_OAUTH2_PORT: "99999" })).toBe("FAME_OAUTH2_PORT");
    expect(await settingOf({ ...env(), FAME_OAUTH2_TOKEN_TTL_SEC: "5" })).toBe("FAME_OAUTH2_TOKEN_TTL_SEC");
    expect(await settingOf({ ...env(), FAME_OAUTH2_ISSUER: "nope" })).toBe("FAME_OAUTH2_ISSUER");
    expect(await settingOf({ ...env(), FAME_OAUTH2_SIGNING_KEY_FILE: join(dir, "missing.json") })).toBe(
      "FAME_OAUTH2_SIGNING_KEY_FILE",
    );
    expect(await settingOf({ ...env(), FAME_OAUTH2_CLIENTS_FILE: join(dir, "key.json") })).toBe(
      "FAME_OAUTH2_CLIENTS_FILE",
    );
    expect(await settingOf({ ...env(), FAME_OAUTH2_CLIENT_ID: "solo" })).toBe("FAME_OAUTH2_CLIENT_SECRET");
    expect(
      await settingOf({ ...env(), FAME_OAUTH2_CLIENT_ID: "solo", FAME_OAUTH2_CLIENT_SECRET: "short" }),
    ).toBe("FAME_OAUTH2_CLIENT_ID");
    const tooManyScopes = Array.from({ length: 33 }, (_, i) => `s${i}`).join(",");
    expect(
      await settingOf({
        ...env(),
        FAME_OAUTH2_CLIENT_ID: "solo",
        FAME_OAUTH2_CLIENT_SECRET: "a-long-enough-secret",
        FAME_OAUTH2_CLIENT_SCOPES: tooManyScopes,
      }),
    ).toBe("FAME_OAUTH2_CLIENT_ID");
    expect(
      await settingOf({ ...env(), FAME_DEV_INSECURE_HTTP: "0", FAME_TLS_CERT: join(dir, "none.pem") }),
    ).toBe("FAME_TLS_CERT");
  });
});
