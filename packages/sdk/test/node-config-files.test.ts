import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateDevPki } from "@fame/identity/dev";
import { nodeConfigFromEnv } from "@fame/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** config/math-agent.yml and config/client.yml, as make start and make run load them. */
const configDir = fileURLToPath(new URL("../../../config", import.meta.url));
let pki: string;

beforeAll(async () => {
  pki = mkdtempSync(join(tmpdir(), "fame-node-config-"));
  await generateDevPki({ dir: pki });
});

afterAll(() => rmSync(pki, { recursive: true, force: true }));

const envFor = (file: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  FAME_CONFIG: join(configDir, file),
  FAME_CA_CERTS: join(pki, "trust-bundle.pem"),
  ...extra,
});

describe("node YAML files in config/", () => {
  it("math-agent.yml: a strict-overlay replica of *.fame.fabric with encrypted channels", () => {
    const c = nodeConfigFromEnv(
      envFor("math-agent.yml", { FAME_OAUTH2_PORT: "9443", FAME_WELCOME_PORT: "9444" }),
    );
    expect(c.securityProfile).toBe("strict-overlay");
    expect(c.admissionProfile).toBe("welcome");
    expect(c.encryptionLevel).toBe("channel");
    expect(c.requestedLogicals).toEqual(["*.fame.fabric"]);
    expect(c.trustBundlePem).toContain("-----BEGIN CERTIFICATE-----");
    // the YAML's env block reaches admission, with the ports interpolated
    expect(c.env["FAME_ADMISSION_TOKEN_URL"]).toBe("https://127.0.0.1:9443/oauth/token");
    expect(c.env["FAME_ADMISSION_SERVICE_URL"]).toBe("https://127.0.0.1:9444");
  });

  it("client.yml: no logicals, encrypted channels, default ports", () => {
    const c = nodeConfigFromEnv(envFor("client.yml"));
    expect(c.requestedLogicals).toEqual([]);
    expect(c.encryptionLevel).toBe("channel");
    expect(c.securityProfile).toBe("strict-overlay");
    expect(c.env["FAME_ADMISSION_TOKEN_URL"]).toBe("https://127.0.0.1:8443/oauth/token");
  });

  it("real environment variables win over the YAML, env block and node block alike", () => {
    const c = nodeConfigFromEnv(
      envFor("client.yml", {
        FAME_DEFAULT_ENCRYPTION_LEVEL: "plaintext",
        FAME_ADMISSION_SERVICE_URL: "https://welcome:8444",
        FAME_REQUESTED_LOGICALS: "*.fame.fabric",
      }),
    );
    expect(c.encryptionLevel).toBe("plaintext");
    expect(c.env["FAME_ADMISSION_SERVICE_URL"]).toBe("https://welcome:8444");
    expect(c.requestedLogicals).toEqual(["*.fame.fabric"]);
  });
});

describe("settings a new user meets first", () => {
  it("a welcome node without a trust bundle is refused naming FAME_CA_CERTS", () => {
    // no YAML (client.yml names the dev bundle itself): only what a user's environment gives
    const empty = join(pki, "empty.yml");
    writeFileSync(empty, "");
    const env = {
      FAME_CONFIG: empty,
      FAME_SECURITY_PROFILE: "strict-overlay",
      FAME_ADMISSION_PROFILE: "welcome",
    };
    expect(() => nodeConfigFromEnv(env)).toThrow(/invalid setting FAME_CA_CERTS: is required/);
    expect(
      nodeConfigFromEnv({ ...env, FAME_CA_CERTS: join(pki, "trust-bundle.pem") }).trustBundlePem,
    ).toBeDefined();
  });

  it("a node's name comes from FAME_REPLICA_NAME or FAME_NODE_NAME, and must be showable", () => {
    expect(nodeConfigFromEnv(envFor("client.yml")).nodeName).toBeUndefined();
    expect(nodeConfigFromEnv(envFor("client.yml", { FAME_NODE_NAME: "stats-1" })).nodeName).toBe("stats-1");
    expect(
      nodeConfigFromEnv(envFor("client.yml", { FAME_NODE_NAME: "n", FAME_REPLICA_NAME: "replica.2" }))
        .nodeName,
    ).toBe("replica.2");
    expect(() => nodeConfigFromEnv(envFor("client.yml", { FAME_NODE_NAME: "my agent" }))).toThrow(
      /FAME_NODE_NAME: must be 1-64/,
    );
    expect(() => nodeConfigFromEnv(envFor("client.yml", { FAME_NODE_NAME: "x".repeat(65) }))).toThrow(
      /FAME_NODE_NAME/,
    );
  });

  it("drain bounds come from FAME_DRAIN_TIMEOUT_MS and FAME_DRAIN_QUIET_MS", () => {
    const c = nodeConfigFromEnv(envFor("client.yml"));
    expect([c.drainTimeoutMs, c.drainQuietMs]).toEqual([10_000, 1000]);
    const d = nodeConfigFromEnv(
      envFor("client.yml", { FAME_DRAIN_TIMEOUT_MS: "500", FAME_DRAIN_QUIET_MS: "0" }),
    );
    expect([d.drainTimeoutMs, d.drainQuietMs]).toEqual([500, 0]);
    expect(() => nodeConfigFromEnv(envFor("client.yml", { FAME_DRAIN_TIMEOUT_MS: "-1" }))).toThrow(
      /FAME_DRAIN_TIMEOUT_MS/,
    );
  });
});
