import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "@fame/config";
import { DEFAULT_POOL_POLICY, PoolRouter, parsePoolPolicies, sentinelConfigFromEnv } from "@fame/sentinel";
import { afterAll, describe, expect, it } from "vitest";
import { quiet } from "./affinity-helpers.js";

const full = {
  address: "math@fame.fabric",
  load_balancing: "hrw",
  affinity: "session",
  affinity_ttl_sec: 300,
  bounded_load_factor: 1.25,
  exclusive: false,
  mode: "multi-active",
  draining_timeout_sec: 60,
  max_sessions: 5000,
  health_check: { operation: "health", interval_sec: 5, timeout_ms: 1000 },
  outlier_detection: { unanswered_sec: 10, ejection_sec: 60 },
};

function refusal(raw: unknown): ConfigError {
  try {
    parsePoolPolicies(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

describe("pool policy parsing", () => {
  it("reads every key, snake_case", () => {
    const [p] = parsePoolPolicies([full]);
    expect(p).toEqual({
      address: "math@fame.fabric",
      loadBalancing: "hrw",
      affinity: "session",
      affinityTtlSec: 300,
      boundedLoadFactor: 1.25,
      exclusive: false,
      mode: "multi-active",
      drainingTimeoutSec: 60,
      maxSessions: 5000,
      healthCheck: {
        operation: "health",
        intervalSec: 5,
        timeoutMs: 1000,
        unhealthyThreshold: 2,
        healthyThreshold: 1,
      },
      outlier: { unansweredSec: 10, ejectionSec: 60 },
    });
  });

  it("outlier_detection: on by default, false turns it off, true keeps the defaults, bad values refused", () => {
    const read = (v: unknown) => parsePoolPolicies([{ address: "a@fame.fabric", outlier_detection: v }])[0]!;
    expect(parsePoolPolicies([{ address: "a@fame.fabric" }])[0]!.outlier).toEqual({
      unansweredSec: 30,
      ejectionSec: 30,
    });
    expect(read(false).outlier).toBeUndefined();
    expect(read("false").outlier).toBeUndefined();
    expect(read(true).outlier).toEqual({ unansweredSec: 30, ejectionSec: 30 });
    expect(read({ unansweredSec: "5" }).outlier).toEqual({ unansweredSec: 5, ejectionSec: 30 });
    expect(refusal([{ address: "a@fame.fabric", outlier_detection: { unanswered_sec: 0 } }]).message).toMatch(
      /outlier_detection\.unanswered_sec.*between 1/,
    );
    expect(refusal([{ address: "a@fame.fabric", outlier_detection: { max_ejected: 1 } }]).message).toMatch(
      /outlier_detection\.max_ejected.*unknown key/,
    );
    expect(refusal([{ address: "a@fame.fabric", outlier_detection: "soon" }]).message).toMatch(
      /outlier_detection.*mapping/,
    );
  });

  it("accepts camelCase and text values (env interpolation yields strings)", () => {
    const [p] = parsePoolPolicies([
      {
        address: "solo@fame.fabric",
        loadBalancing: "least_inflight",
        drainingTimeoutSec: "30",
        mode: "single-active",
        healthCheck: { operation: "whoami", intervalSec: "2", timeoutMs: "500", unhealthyThreshold: 3 },
      },
      { address: "excl@fame.fabric", affinity: "session", exclusive: "true", boundedLoadFactor: "1.5" },
    ]);
    expect(p).toMatchObject({
      loadBalancing: "least_inflight",
      drainingTimeoutSec: 30,
      mode: "single-active",
      healthCheck: { operation: "whoami", intervalSec: 2, timeoutMs: 500, unhealthyThreshold: 3 },
    });
    expect(
      parsePoolPolicies([{ address: "e@fame.fabric", affinity: "session", exclusive: "true" }])[0],
    ).toMatchObject({ exclusive: true });
  });

  it("fills defaults: an entry with only an address behaves like no entry", () => {
    const [p] = parsePoolPolicies([{ address: "math@fame.fabric" }]);
    expect(p).toEqual({ address: "math@fame.fabric", ...DEFAULT_POOL_POLICY });
    expect(parsePoolPolicies(undefined)).toEqual([]);
    expect(parsePoolPolicies(null)).toEqual([]);
  });

  it.each([
    [[{ ...full, load_balancing: "fastest" }], "node.pools[0].load_balancing", /round_robin \| random/],
    [[{ ...full, affinity: "cookie" }], "node.pools[0].affinity", /none \| session/],
    [[{ ...full, affinity_ttl_sec: 0 }], "node.pools[0].affinity_ttl_sec", /between 1 and/],
    [[{ ...full, affinity_ttl_sec: "5m" }], "node.pools[0].affinity_ttl_sec", /integer/],
    [[{ ...full, bounded_load_factor: 0.9 }], "node.pools[0].bounded_load_factor", /between 1 and 100/],
    [[{ ...full, exclusive: "yes" }], "node.pools[0].exclusive", /true or false/],
    [[{ ...full, mode: "active-passive" }], "node.pools[0].mode", /multi-active \| single-active/],
    [[{ ...full, draining_timeout_sec: -1 }], "node.pools[0].draining_timeout_sec", /between 0/],
    [[{ ...full, address: "math" }], "node.pools[0].address", /logical address/],
    [[{ ...full, address: "math@/s0/r1" }], "node.pools[0].address", /logical address/],
    [[{ ...full, colour: "blue" }], "node.pools[0].colour", /unknown key/],
    [
      [{ ...full, health_check: { operation: "health", timeout_ms: 5000 } }],
      "node.pools[0].health_check.timeout_ms",
      /below interval_sec/,
    ],
    [
      [{ ...full, health_check: { operation: "bad op" } }],
      "node.pools[0].health_check.operation",
      /operation name/,
    ],
    [
      [{ ...full, health_check: { interval_sec: 5 } }],
      "node.pools[0].health_check.operation",
      /operation name/,
    ],
    [
      [{ ...full, health_check: { operation: "h", every: 1 } }],
      "node.pools[0].health_check.every",
      /unknown key/,
    ],
    [[{ address: "a@fame.fabric", exclusive: true }], "node.pools[0].exclusive", /affinity: session/],
    [
      [{ address: "a@fame.fabric", mode: "single-active", affinity: "session" }],
      "node.pools[0].affinity",
      /single-active/,
    ],
    [[{ address: "a@fame.fabric" }, { address: "a@fame.fabric" }], "node.pools[1].address", /twice/],
    [
      [{ address: "a@fame.fabric", affinity_ttl_sec: 1, affinityTtlSec: 2 }],
      "node.pools[0].affinity_ttl_sec",
      /conflicts/,
    ],
    [{ address: "a@fame.fabric" }, "node.pools", /list/],
    [["a@fame.fabric"], "node.pools[0]", /mapping/],
  ])("refuses %j naming %s", (raw, setting, message) => {
    const err = refusal(raw);
    expect(err.setting).toBe(setting);
    expect(err.message).toMatch(message);
  });
});

describe("sentinel config: the pools block", () => {
  const dir = mkdtempSync(join(tmpdir(), "fame-pools-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const env = (yaml: string, extra: Record<string, string> = {}) => {
    const file = join(dir, `c${Math.random().toString(36).slice(2)}.yml`);
    writeFileSync(file, yaml);
    return {
      FAME_CONFIG: file,
      FAME_DEV_INSECURE_HTTP: "1",
      FAME_SECURITY_PROFILE: "open",
      FAME_ADMISSION_PROFILE: "none",
      ...extra,
    };
  };

  it("reads node.pools from YAML, with env interpolation", () => {
    const config = sentinelConfigFromEnv(
      env(
        [
          "node:",
          "  type: Sentinel",
          "  pools:",
          '    - address: "math@fame.fabric"',
          "      load_balancing: round_robin",
          "      affinity: session",
          // biome-ignore lint/suspicious/noTemplateCurlyInString: the config's env interpolation, not a template
          "      affinity_ttl_sec: ${env:TTL:300}",
          "      bounded_load_factor: 1.25",
          "      exclusive: false",
          "      mode: multi-active",
          "      draining_timeout_sec: 60",
          "      health_check: { operation: health, interval_sec: 5, timeout_ms: 1000 }",
          '    - address: "solo@fame.fabric"',
          "      mode: single-active",
        ].join("\n"),
        { TTL: "120" },
      ),
    );
    expect(config.pools).toHaveLength(2);
    expect(config.pools[0]).toMatchObject({
      affinity: "session",
      affinityTtlSec: 120,
      healthCheck: { operation: "health" },
    });
    expect(config.pools[1]).toMatchObject({ address: "solo@fame.fabric", mode: "single-active" });
  });

  it("has no pools without the block, and refuses a bad one naming the key", () => {
    expect(sentinelConfigFromEnv(env("node:\n  type: Sentinel\n")).pools).toEqual([]);
    expect(() =>
      sentinelConfigFromEnv(
        env("node:\n  pools:\n    - address: math@fame.fabric\n      affinity: sticky\n"),
      ),
    ).toThrow(/node\.pools\[0\]\.affinity/);
  });

  it("the router refuses health checks it could not receive answers for", () => {
    const pools = parsePoolPolicies([{ address: "m@fame.fabric", health_check: { operation: "h" } }]);
    const deps = { log: quiet, resolve: () => undefined, sendProbe: () => true };
    expect(() => new PoolRouter(pools, { ...deps, sentinelId: "bad-id" })).toThrow(/sentinelId/);
    expect(new PoolRouter(pools, { ...deps, sentinelId: "s0" }).health).toBeDefined();
  });

  it("needs a path-safe sentinel id when pools are health-checked", () => {
    const yaml =
      "node:\n  pools:\n    - address: math@fame.fabric\n      health_check: { operation: health }\n";
    expect(() => sentinelConfigFromEnv(env(yaml, { FAME_NODE_ID: "sentinel-east" }))).toThrow(/FAME_NODE_ID/);
    expect(sentinelConfigFromEnv(env(yaml, { FAME_NODE_ID: "sentinelEast" })).pools).toHaveLength(1);
  });
});
