import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateDevPki } from "@fame/identity/dev";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sentinelConfigFromEnv } from "../src/sentinel-config.js";
import { parseStickinessConfig } from "../src/stickiness/index.js";

/** config/sentinel.yml, as make start loads it. */
const file = fileURLToPath(new URL("../../../config/sentinel.yml", import.meta.url));
let pki: string;

beforeAll(async () => {
  pki = mkdtempSync(join(tmpdir(), "fame-sentinel-config-"));
  await generateDevPki({ dir: pki });
});

afterAll(() => rmSync(pki, { recursive: true, force: true }));

const envFor = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  FAME_CONFIG: file,
  FAME_CA_CERTS: join(pki, "trust-bundle.pem"),
  FAME_TLS_CERT: join(pki, "server.pem"),
  FAME_TLS_KEY: join(pki, "server.key"),
  ...extra,
});

describe("config/sentinel.yml", () => {
  it("is a strict-overlay, welcome-admission sentinel with strict AFT stickiness", () => {
    const c = sentinelConfigFromEnv(envFor({ FAME_SENTINEL_PORT: "9100", FAME_WELCOME_PORT: "9444" }));
    expect(c.sentinelId).toBe("sentinel0");
    expect(c.port).toBe(9100);
    expect(c.host).toBe("127.0.0.1");
    expect(c.securityProfile).toBe("strict-overlay");
    expect(c.admissionProfile).toBe("welcome");
    expect(c.loadBalancing).toBe("round_robin");
    expect(c.welcomeJwksUrl).toBe("https://127.0.0.1:9444/.well-known/jwks.json");
    expect(c.welcomeIssuer).toBe("https://127.0.0.1:9444");
    expect(c.trustBundlePem).toContain("-----BEGIN CERTIFICATE-----");
    expect(parseStickinessConfig(c.stickiness).securityLevel).toBe("strict");
    // FAME_SESSION_ID=s1 make run shows session affinity without editing anything
    expect(c.pools).toEqual([
      expect.objectContaining({ address: "math@fame.fabric", affinity: "session", affinityTtlSec: 300 }),
    ]);
  });

  it("takes its port from the listener when no variable is set, and variables over the YAML", () => {
    expect(sentinelConfigFromEnv(envFor()).port).toBe(8000);
    const c = sentinelConfigFromEnv(envFor({ FAME_NODE_ID: "edge1", FAME_LOAD_BALANCING: "hrw" }));
    expect(c.sentinelId).toBe("edge1");
    expect(c.loadBalancing).toBe("hrw");
  });
});

describe("a misspelled key in the sentinel's YAML", () => {
  /** config/sentinel.yml with one edit, written beside the dev PKI */
  const variant = (name: string, edit: (yaml: string) => string): string => {
    const path = join(pki, `${name}.yml`);
    writeFileSync(path, edit(readFileSync(file, "utf8")));
    return path;
  };

  it.each([
    // each would have dropped its block silently: an open sentinel, no pool policies, …
    ["nod", (y: string) => y.replace(/^node:/m, "nod:"), "nod"],
    ["securty", (y: string) => y.replace("  security:", "  securty:"), "node.securty"],
    ["pool", (y: string) => y.replace("  storage:", "  pool: []\n  storage:"), "node.pool"],
    [
      "profil",
      (y: string) =>
        y.replace('    profile: "${env:FAME_SECURITY_PROFILE', '    profil: "${env:FAME_SECURITY_PROFILE'),
      "node.security.profil",
    ],
  ])("stops the start naming it (%s)", (name, edit, setting) => {
    expect(() => sentinelConfigFromEnv(envFor({ FAME_CONFIG: variant(name, edit) }))).toThrow(
      new RegExp(`^invalid setting ${setting.replace(/\./g, "\\.")}: unknown key`),
    );
  });
});
