import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "@fame/config";
import { afterAll, describe, expect, it } from "vitest";
import { sentinelConfigFromEnv } from "../src/sentinel-config.js";

const dir = mkdtempSync(join(tmpdir(), "fame-cluster-settings-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = {
  FAME_CONFIG: "",
  FAME_DEV_INSECURE_HTTP: "1",
  FAME_SECURITY_PROFILE: "open",
  FAME_ADMISSION_PROFILE: "none",
};
const cluster = {
  ...base,
  FAME_STORAGE_PROFILE: "nats",
  FAME_NATS_URL: "nats://127.0.0.1:4222,nats://127.0.0.1:4223",
  FAME_PUBLIC_URL: "ws://127.0.0.1:8001/fame/v1/attach/ws/downstream",
};

function refusal(env: Record<string, string>): ConfigError | undefined {
  try {
    sentinelConfigFromEnv(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  return undefined;
}

describe("sentinel storage and cluster settings", () => {
  it("memory by default: no public URL needed, today's ticket audience", () => {
    const c = sentinelConfigFromEnv(base);
    expect(c.storage).toEqual({ profile: "memory", clusterId: "fabric" });
    expect(c.publicUrl).toBeUndefined();
    expect(c.ticketAudience).toBe("fame-sentinel");
  });

  it("nats: the cluster's ticket audience unless one is set, and the public URL", () => {
    const c = sentinelConfigFromEnv({ ...cluster, FAME_CLUSTER_ID: "eu1", FAME_NATS_REPLICAS: "3" });
    expect(c.storage).toMatchObject({ profile: "nats", clusterId: "eu1", replicas: 3 });
    expect(c.ticketAudience).toBe("fame-cluster:eu1");
    expect(c.publicUrl).toBe("ws://127.0.0.1:8001/fame/v1/attach/ws/downstream");
    expect(sentinelConfigFromEnv({ ...cluster, FAME_SENTINEL_AUDIENCE: "mine" }).ticketAudience).toBe("mine");
  });

  it("reads the seed's node.storage and node.public_url from YAML; the environment wins", () => {
    const file = join(dir, "seed.yml");
    writeFileSync(
      file,
      [
        "node:",
        "  type: Sentinel",
        '  public_url: "wss://edge1.example:443/fame/v1/attach/ws/downstream"',
        "  storage:",
        "    type: StorageProfile",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the YAML interpolation syntax under test
        '    profile: "${env:STORAGE_PROFILE:nats}"',
        "",
      ].join("\n"),
    );
    const c = sentinelConfigFromEnv({ ...base, FAME_CONFIG: file, FAME_NATS_URL: "nats://127.0.0.1:4222" });
    expect(c.storage.profile).toBe("nats");
    expect(c.publicUrl).toBe("wss://edge1.example/fame/v1/attach/ws/downstream");
    const env = { ...base, FAME_CONFIG: file, FAME_STORAGE_PROFILE: "memory" };
    expect(sentinelConfigFromEnv(env).storage.profile).toBe("memory");
  });

  it("refuses a cluster sentinel without a public URL or NATS servers, naming the settings", () => {
    const { FAME_PUBLIC_URL: _u, ...noUrl } = cluster;
    const r = refusal(noUrl);
    expect(r?.setting).toBe("FAME_PUBLIC_URL");
    expect(r?.message).toContain("FAME_STORAGE_PROFILE=nats");
    const { FAME_NATS_URL: _n, ...noNats } = cluster;
    expect(refusal(noNats)?.setting).toBe("FAME_NATS_URL");
  });

  it("refuses a plain ws:// public URL unless FAME_DEV_INSECURE_HTTP, and a sentinel id NATS cannot address", () => {
    const { FAME_DEV_INSECURE_HTTP: _i, ...tls } = cluster;
    // with TLS on, only wss:// may be handed to nodes
    expect(refusal({ ...tls, FAME_TLS_CERT: "x", FAME_TLS_KEY: "y" })?.setting).toBe("FAME_PUBLIC_URL");
    // the id is the sid of the sentinel's own envelopes: letters and digits, cluster or not
    for (const id of ["edge.1", "edge-1_a", "sentinel_east"]) {
      expect(refusal({ ...cluster, FAME_NODE_ID: id })?.setting).toBe("FAME_NODE_ID");
      expect(refusal({ ...base, FAME_NODE_ID: id })?.message).toContain("letters and digits");
    }
    expect(refusal({ ...cluster, FAME_NODE_ID: "edge1a" })).toBeUndefined();
  });
});
