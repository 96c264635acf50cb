import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, clusterAudience, parseYamlConfig, readStorageSettings } from "@fame/config";
import { describe, expect, it } from "vitest";

const dir = mkdtempSync(join(tmpdir(), "fame-storage-"));
const tokenFile = join(dir, "nats-token");
writeFileSync(tokenFile, "s3cr3t-token-value\n");
const passFile = join(dir, "nats-pass");
writeFileSync(passFile, "pa55word\n");
const emptyFile = join(dir, "empty");
writeFileSync(emptyFile, "\n");

const SEED_YAML = `
node:
  type: Sentinel
  storage:
    type: StorageProfile
    profile: "\${env:STORAGE_PROFILE:memory}"
`;

function refusal(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("storage settings", () => {
  it("defaults to memory and cluster id fabric, reading no NATS setting", () => {
    // a shared env file naming NATS leaves a memory sentinel as it is
    const s = readStorageSettings({ FAME_NATS_URL: "not a url", FAME_NATS_REPLICAS: "x" }, {});
    expect(s).toEqual({ profile: "memory", clusterId: "fabric" });
  });

  it("reads the seed's node.storage block; the environment wins", () => {
    const tree = parseYamlConfig(SEED_YAML, { STORAGE_PROFILE: "nats" });
    const env = { FAME_NATS_URL: "nats://127.0.0.1:4222" };
    expect(readStorageSettings(env, tree).profile).toBe("nats");
    expect(readStorageSettings({ ...env, FAME_STORAGE_PROFILE: "memory" }, tree).profile).toBe("memory");
    expect(readStorageSettings({}, parseYamlConfig(SEED_YAML, {})).profile).toBe("memory");
  });

  it("nats: servers split on commas, replicas, cluster id", () => {
    const s = readStorageSettings(
      {
        FAME_STORAGE_PROFILE: "nats",
        FAME_NATS_URL: "nats://127.0.0.1:4222, nats://127.0.0.1:4223,,tls://nats.example:4224",
        FAME_NATS_REPLICAS: "3",
        FAME_CLUSTER_ID: "prod_eu1",
      },
      {},
    );
    expect(s).toEqual({
      profile: "nats",
      clusterId: "prod_eu1",
      servers: ["nats://127.0.0.1:4222", "nats://127.0.0.1:4223", "tls://nats.example:4224"],
      replicas: 3,
      auth: undefined,
    });
    expect(clusterAudience("prod_eu1")).toBe("fame-cluster:prod_eu1");
  });

  it("refuses nats without FAME_NATS_URL, naming both settings", () => {
    const err = refusal(() => readStorageSettings({ FAME_STORAGE_PROFILE: "nats" }, {}));
    expect(err.setting).toBe("FAME_NATS_URL");
    expect(err.message).toMatch(/FAME_STORAGE_PROFILE=nats/);
  });

  it("refuses malformed servers, credentials in URLs, bad replicas and cluster ids", () => {
    const nats = { FAME_STORAGE_PROFILE: "nats" };
    expect(refusal(() => readStorageSettings({ ...nats, FAME_NATS_URL: "http://h:1" }, {})).setting).toBe(
      "FAME_NATS_URL",
    );
    expect(refusal(() => readStorageSettings({ ...nats, FAME_NATS_URL: "nats://h" }, {})).message).toMatch(
      /port/,
    );
    const withCreds = refusal(() => readStorageSettings({ ...nats, FAME_NATS_URL: "nats://u:p@h:1" }, {}));
    expect(withCreds.message).toMatch(/credentials/);
    expect(withCreds.message).not.toContain("u:p");
    expect(refusal(() => readStorageSettings({ ...nats, FAME_NATS_URL: " , " }, {})).message).toMatch(
      /no server/,
    );
    expect(
      refusal(() =>
        readStorageSettings({ ...nats, FAME_NATS_URL: "nats://h:1", FAME_NATS_REPLICAS: "6" }, {}),
      ).setting,
    ).toBe("FAME_NATS_REPLICAS");
    expect(refusal(() => readStorageSettings({ FAME_CLUSTER_ID: "a/b" }, {})).setting).toBe(
      "FAME_CLUSTER_ID",
    );
    expect(refusal(() => readStorageSettings({ FAME_CLUSTER_ID: "x".repeat(33) }, {})).setting).toBe(
      "FAME_CLUSTER_ID",
    );
    expect(refusal(() => readStorageSettings({ FAME_STORAGE_PROFILE: "redis" }, {})).setting).toBe(
      "FAME_STORAGE_PROFILE",
    );
  });

  it("reads credentials from files and refuses contradictory or half-given ones", () => {
    const nats = { FAME_STORAGE_PROFILE: "nats", FAME_NATS_URL: "nats://127.0.0.1:4222" };
    const token = readStorageSettings({ ...nats, FAME_NATS_TOKEN_FILE: tokenFile }, {});
    expect(token.profile === "nats" && token.auth).toEqual({ kind: "token", token: "s3cr3t-token-value" });
    const user = readStorageSettings(
      { ...nats, FAME_NATS_USER: "sentinel", FAME_NATS_PASSWORD_FILE: passFile },
      {},
    );
    expect(user.profile === "nats" && user.auth).toEqual({
      kind: "user",
      user: "sentinel",
      pass: "pa55word",
    });
    const both = refusal(() =>
      readStorageSettings({ ...nats, FAME_NATS_TOKEN_FILE: tokenFile, FAME_NATS_USER: "sentinel" }, {}),
    );
    expect(both.message).toMatch(/FAME_NATS_USER/);
    expect(both.setting).toBe("FAME_NATS_TOKEN_FILE");
    expect(refusal(() => readStorageSettings({ ...nats, FAME_NATS_USER: "sentinel" }, {})).setting).toBe(
      "FAME_NATS_PASSWORD_FILE",
    );
    expect(
      refusal(() => readStorageSettings({ ...nats, FAME_NATS_PASSWORD_FILE: passFile }, {})).setting,
    ).toBe("FAME_NATS_USER");
    const empty = refusal(() => readStorageSettings({ ...nats, FAME_NATS_TOKEN_FILE: emptyFile }, {}));
    expect(empty.message).toMatch(/empty/);
    const missing = refusal(() =>
      readStorageSettings({ ...nats, FAME_NATS_TOKEN_FILE: join(dir, "nope") }, {}),
    );
    expect(missing.setting).toBe("FAME_NATS_TOKEN_FILE");
  });

  it("never echoes a secret in a refusal", () => {
    const err = refusal(() =>
      readStorageSettings(
        {
          FAME_STORAGE_PROFILE: "nats",
          FAME_NATS_URL: "nats://h:1",
          FAME_NATS_TOKEN_FILE: tokenFile,
          FAME_NATS_PASSWORD_FILE: passFile,
        },
        {},
      ),
    );
    expect(err.message).not.toContain("s3cr3t");
    expect(err.message).not.toContain("pa55word");
  });
});
