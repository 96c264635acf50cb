import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "@fame/config";
import { exportJWK, generateKeyPair } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { LogicalPolicy, welcomeConfigFromEnv } from "../src/index.js";

let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "fame-welcome-cfg-"));
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  writeFileSync(
    join(dir, "key.json"),
    JSON.stringify({ ...(await exportJWK(privateKey)), kid: "w", alg: "EdDSA" }),
  );
  writeFileSync(
    join(dir, "jwks.json"),
    JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "o" }] }),
  );
});

const env = () => ({
  FAME_DEV_INSECURE_HTTP: "1",
  FAME_WELCOME_SIGNING_KEY_FILE: join(dir, "key.json"),
  FAME_JWKS_FILE: join(dir, "jwks.json"),
});

async function settingOf(e: NodeJS.ProcessEnv): Promise<string | undefined> {
  const err = await welcomeConfigFromEnv(e).then(
    () => undefined,
    (x: unknown) => x,
  );
  return err instanceof ConfigError ? err.setting : err === undefined ? undefined : String(err);
}

describe("welcomeConfigFromEnv", () => {
  it("defaults", async () => {
    const c = await welcomeConfigFromEnv(env());
    expect(c).toMatchObject({
      port: 8444,
      issuer: "https://localhost:8444",
      sentinelAudience: "fame-sentinel",
      sentinelId: "sentinel0",
      ticketTtlSec: 120,
      caGrantTtlSec: 120,
      transportUrl: "wss://localhost:8000/fame/v1/attach/ws/downstream",
      caSignUrl: "https://localhost:8445/fame/v1/ca/sign",
      allowedDomains: ["fame.fabric"],
      wildcardPatterns: ["*.fame.fabric"],
      allowClientSystemId: false,
      admitting: { maxActive: 16, maxQueued: 1024 },
    });
    expect(c.accessToken).toMatchObject({ issuer: "https://localhost:8443", audience: "fame.fabric" });
  });

  it("one sentinel: the node-id key from the named file or the dev PKI's, else none (a random one per process)", async () => {
    const certs = mkdtempSync(join(tmpdir(), "fame-welcome-certs-"));
    const keyText = Buffer.alloc(32, 7).toString("base64url");
    expect((await welcomeConfigFromEnv({ ...env(), FAME_CERTS_DIR: certs })).nodeIdKey).toBeUndefined();
    mkdirSync(join(certs, "secrets"));
    writeFileSync(join(certs, "secrets", "welcome-node-id-key"), `${keyText}\n`);
    const fromDev = await welcomeConfigFromEnv({ ...env(), FAME_CERTS_DIR: certs });
    expect(Buffer.from(fromDev.nodeIdKey!).toString("base64url")).toBe(keyText);
    expect(
      await settingOf({
        ...env(),
        FAME_WELCOME_NODE_ID_KEY_FILE: join(certs, "missing"),
        FAME_CERTS_DIR: certs,
      }),
    ).toBe("FAME_WELCOME_NODE_ID_KEY_FILE");
    writeFileSync(join(certs, "short"), Buffer.alloc(8).toString("base64url"));
    expect(await settingOf({ ...env(), FAME_WELCOME_NODE_ID_KEY_FILE: join(certs, "short") })).toBe(
      "FAME_WELCOME_NODE_ID_KEY_FILE",
    );
  });

  it("reads lists; `none` disables wildcards", async () => {
    const c = await welcomeConfigFromEnv({
      ...env(),
      FAME_WELCOME_ALLOWED_DOMAINS: "a.example, b.example",
      FAME_WELCOME_WILDCARD_LOGICALS: "none",
      FAME_CA_SERVICE_URL: "https://ca.example:9445/",
    });
    expect(c.allowedDomains).toEqual(["a.example", "b.example"]);
    expect(c.wildcardPatterns).toEqual([]);
    expect(c.caSignUrl).toBe("https://ca.example:9445/fame/v1/ca/sign");
  });

  it("names the bad setting", async () => {
    expect(await settingOf({ ...env(), FAME_WELCOME_TICKET_TTL_SEC: "301" })).toBe(
      "FAME_WELCOME_TICKET_TTL_SEC",
    );
    expect(await settingOf({ ...env(), FAME_WELCOME_CA_GRANT_TTL_SEC: "0" })).toBe(
      "FAME_WELCOME_CA_GRANT_TTL_SEC",
    );
    expect(await settingOf({ ...env(), FAME_SENTINEL_ID: "a/b" })).toBe("FAME_SENTINEL_ID");
    expect(await settingOf({ ...env(), FAME_WELCOME_MAX_HELLOS: "0" })).toBe("FAME_WELCOME_MAX_HELLOS");
    expect(await settingOf({ ...env(), FAME_WELCOME_HELLO_QUEUE: "-1" })).toBe("FAME_WELCOME_HELLO_QUEUE");
    expect(await settingOf({ ...env(), FAME_WELCOME_WILDCARD_LOGICALS: "*" })).toBe(
      "FAME_WELCOME_WILDCARD_LOGICALS",
    );
    expect(await settingOf({ ...env(), FAME_WELCOME_ALLOWED_DOMAINS: "Bad_Domain" })).toBe(
      "FAME_WELCOME_ALLOWED_DOMAINS",
    );
    expect(await settingOf({ ...env(), FAME_TRANSPORT_URL: "https://x" })).toBe("FAME_TRANSPORT_URL");
    expect(await settingOf({ ...env(), FAME_JWKS_FILE: join(dir, "key-missing.json") })).toBe(
      "FAME_JWKS_FILE",
    );
    // a private key is not a JWKS member: refused at startup, not on the first hello
    const privateKey = JSON.parse(readFileSync(join(dir, "key.json"), "utf8")) as unknown;
    writeFileSync(join(dir, "private-jwks.json"), JSON.stringify({ keys: [privateKey] }));
    expect(await settingOf({ ...env(), FAME_JWKS_FILE: join(dir, "private-jwks.json") })).toBe(
      "FAME_JWKS_FILE",
    );
    const { FAME_JWKS_FILE: _f, ...remote } = env();
    expect(await settingOf({ ...remote, FAME_JWKS_URL: "nope" })).toBe("FAME_JWKS_URL");
    expect(await settingOf({ ...env(), FAME_WELCOME_SIGNING_KEY_FILE: join(dir, "jwks.json") })).toBe(
      "FAME_WELCOME_SIGNING_KEY_FILE",
    );
  });
});

describe("LogicalPolicy", () => {
  const policy = new LogicalPolicy({ allowedDomains: ["fame.fabric"], wildcardPatterns: ["*.fame.fabric"] });
  it.each([
    // the sentinel's own logical is reserved: an exact grant would let its holder squat every name@fame.fabric
    [["fame.fabric"], false],
    [["a.b.fame.fabric"], true],
    [["*.fame.fabric"], true],
    [["*.team.fame.fabric"], true],
    [["*.fabric"], false],
    [["xfame.fabric"], false],
    [["*.xfame.fabric"], false],
    [["ok.fame.fabric", "bad.example"], false],
    [["-bad.fame.fabric"], false],
  ])("%j → %s", (logicals, ok) => {
    expect(policy.decide(logicals).ok).toBe(ok);
  });

  it("dedupes accepted logicals", () => {
    expect(policy.decide(["a.fame.fabric", "a.fame.fabric"])).toEqual({
      ok: true,
      accepted: ["a.fame.fabric"],
    });
  });
});
