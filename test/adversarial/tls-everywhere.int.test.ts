import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "@fame/config";
import { requestRaw } from "@fame/http-service/client";
import { admissionOptionsFromEnv } from "@fame/identity";
import { generateDevPki } from "@fame/identity/dev";
import { createLogger } from "@fame/logger";
import {
  ConnectionError,
  FabricConnection,
  NodeSigner,
  nodeConfigFromEnv,
  PeerKeyDirectory,
} from "@fame/sdk";
import { sentinelConfigFromEnv } from "@fame/sentinel";
import { binOf, freePort, REPO_ROOT, startProcess, stopAll } from "@fame/testkit";
import { welcomeConfigFromEnv } from "@fame/welcome";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * TLS by default: every service refuses to start without its TLS material
 * unless FAME_DEV_INSECURE_HTTP=1 says plain HTTP out loud, and nodes refuse
 * plain ws:// / http:// for the sentinel, admission and the URLs Welcome hands out.
 */
let dir: string;
let env: Record<string, string>;

const SERVICES = [
  ["oauth2", binOf("services", "oauth2"), "FAME_OAUTH2_PORT"],
  ["welcome", binOf("services", "welcome"), "FAME_WELCOME_PORT"],
  ["ca", binOf("services", "ca"), "FAME_CA_PORT"],
  ["sentinel", binOf("packages", "sentinel"), "FAME_SENTINEL_PORT"],
] as const;

function settingOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof ConfigError ? err.setting : `not a ConfigError: ${String(err)}`;
  }
  return undefined;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "fame-tls-"));
  await generateDevPki({ dir });
  writeFileSync(join(dir, "empty.yml"), "");
  const client = (
    JSON.parse(readFileSync(join(dir, "secrets", "oauth2-clients.json"), "utf8")) as {
      clients: { client_id: string; client_secret: string }[];
    }
  ).clients[0]!;
  env = {
    FAME_CONFIG: join(dir, "empty.yml"),
    FAME_CERTS_DIR: dir,
    FAME_CA_CERTS: join(dir, "trust-bundle.pem"),
    FAME_SECURITY_PROFILE: "open",
    FAME_ADMISSION_PROFILE: "none",
    FAME_ADMISSION_CLIENT_ID: client.client_id,
    FAME_ADMISSION_CLIENT_SECRET: client.client_secret,
  };
});

afterAll(async () => {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});

describe("services", () => {
  it.each(SERVICES)(
    "%s refuses to start without TLS material, naming the setting",
    async (name, script, portVar) => {
      const p = await startProcess({
        name,
        script,
        cwd: REPO_ROOT,
        env: { ...env, FAME_TLS_CERT: join(dir, "missing.pem"), [portVar]: String(await freePort()) },
        readyLine: /FAME_TLS_CERT/,
      });
      expect(await p.exited).toBe(2);
      expect(p.output()).toMatch(/invalid setting FAME_TLS_CERT/);
    },
  );

  it.each(SERVICES)(
    "%s serves plain HTTP only with FAME_DEV_INSECURE_HTTP=1, and says so",
    async (name, script, portVar) => {
      const port = await freePort();
      const p = await startProcess({
        name,
        script,
        cwd: REPO_ROOT,
        env: {
          ...env,
          FAME_TLS_CERT: join(dir, "missing.pem"),
          FAME_DEV_INSECURE_HTTP: "1",
          [portVar]: String(port),
        },
        readyUrl: `http://127.0.0.1:${port}/health`,
      });
      try {
        expect((await requestRaw(`http://127.0.0.1:${port}/health`)).status).toBe(200);
        expect(p.output()).toMatch(/plain HTTP enabled by FAME_DEV_INSECURE_HTTP/);
      } finally {
        await p.stop("SIGTERM");
      }
    },
  );

  it("refuses plain-HTTP URLs a service would dial or hand out, unless in dev mode", async () => {
    // the sentinel's ticket keys
    expect(
      settingOf(() =>
        sentinelConfigFromEnv({
          ...env,
          FAME_ADMISSION_PROFILE: "welcome",
          FAME_WELCOME_JWKS_URL: "http://127.0.0.1:1/jwks.json",
        }),
      ),
    ).toBe("FAME_WELCOME_JWKS_URL");
    // what Welcome tells nodes: where to attach, where to send their CSR; and whose tokens it trusts
    for (const [name, url] of [
      ["FAME_TRANSPORT_URL", "ws://127.0.0.1:1/attach"],
      ["FAME_CA_SERVICE_URL", "http://127.0.0.1:1"],
      ["FAME_JWKS_URL", "http://127.0.0.1:1/jwks.json"],
    ] as const) {
      const err = await welcomeConfigFromEnv({ ...env, [name]: url }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).setting).toBe(name);
      await expect(
        welcomeConfigFromEnv({ ...env, [name]: url, FAME_DEV_INSECURE_HTTP: "1" }),
      ).resolves.toBeTruthy();
    }
  });
});

describe("nodes", () => {
  it("refuse a ws:// sentinel URL unless FAME_DEV_INSECURE_HTTP=1", () => {
    const url = "ws://127.0.0.1:8000/fame/v1/attach/ws/downstream";
    expect(settingOf(() => nodeConfigFromEnv({ ...env, FAME_SENTINEL_URL: url }))).toBe("FAME_SENTINEL_URL");
    expect(settingOf(() => nodeConfigFromEnv({ ...env, FAME_SENTINEL_URL: "https://x/y" }))).toBe(
      "FAME_SENTINEL_URL",
    );
    expect(
      nodeConfigFromEnv({ ...env, FAME_SENTINEL_URL: url, FAME_DEV_INSECURE_HTTP: "1" }).sentinelUrl,
    ).toBe(url);
  });

  it("refuse http:// admission URLs (the client secret goes there) unless FAME_DEV_INSECURE_HTTP=1", () => {
    for (const name of ["FAME_ADMISSION_TOKEN_URL", "FAME_ADMISSION_SERVICE_URL"]) {
      expect(settingOf(() => admissionOptionsFromEnv({ ...env, [name]: "http://127.0.0.1:1/x" }))).toBe(name);
      expect(
        settingOf(() =>
          admissionOptionsFromEnv({ ...env, [name]: "http://127.0.0.1:1/x", FAME_DEV_INSECURE_HTTP: "1" }),
        ),
      ).toBeUndefined();
    }
  });

  it("refuse to dial a ws:// URL however it was learned (e.g. from Welcome's answer)", async () => {
    let dialled = false;
    const connection = new FabricConnection({
      securityProfile: "open",
      plan: async () => {
        dialled = true;
        return {
          url: "ws://127.0.0.1:9/fame/v1/attach/ws/downstream",
          systemId: "n1",
          instanceId: "i1",
          logicals: [],
          signer: NodeSigner.generate(),
        };
      },
      peerKeys: new PeerKeyDirectory(async (_jwk, sid) => ({ sid, notAfter: Date.now() + 60_000 })),
      log: createLogger({ name: "tls-test", level: "silent" }),
    });
    const err = await connection.start().catch((e: unknown) => e);
    expect(dialled).toBe(true);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as ConnectionError).code).toBe("insecure_transport");
  });
});
