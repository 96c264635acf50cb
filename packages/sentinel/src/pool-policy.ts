/**
 * Per-pool routing policy: the `node.pools` block of the sentinel's YAML. A pool without an
 * entry keeps the sentinel-wide defaults (global load balancer, no session affinity,
 * multi-active), which is exactly the behaviour before pools were configurable.
 *
 * Keys may be snake_case (YAML convention) or camelCase; unknown keys are refused so a typo
 * cannot silently fall back to a default, and every refusal names the key to fix.
 */
import { ConfigError } from "@fame/config";
import { isValidPath } from "@fame/protocol";
import { parseLogicalAddress } from "./routing/address.js";
import { LOAD_BALANCER_NAMES, type LoadBalancerName } from "./routing/load-balancer.js";

export const AFFINITY_KINDS = ["none", "session"] as const;
export type AffinityKind = (typeof AFFINITY_KINDS)[number];

export const POOL_MODES = ["multi-active", "single-active"] as const;
export type PoolMode = (typeof POOL_MODES)[number];

/** App-level health check: a JSON-RPC call the sentinel makes to every member of the pool. */
export interface HealthCheckPolicy {
  /** JSON-RPC method called (no params); any result passes, an error or silence fails */
  operation: string;
  intervalSec: number;
  /** a probe unanswered after this long fails; below the interval so probes never overlap */
  timeoutMs: number;
  /** consecutive failures before a member is marked unhealthy */
  unhealthyThreshold: number;
  /** consecutive passes before an unhealthy member takes new work again */
  healthyThreshold: number;
}

/**
 * Outlier ejection: a member that leaves other principals' calls unanswered this long, while
 * it answers nobody else either, takes no new work for a while (the single-active role moves).
 */
export interface OutlierPolicy {
  /** a call of another principal unanswered this long, with no answer to anyone meanwhile */
  unansweredSec: number;
  /** the first ejection's length; each one within the hour after doubles it, up to 10× */
  ejectionSec: number;
}

export interface PoolPolicy {
  /** the logical address of the pool, e.g. `math@fame.fabric` */
  address: string;
  /** undefined: the sentinel-wide strategy (FAME_LOAD_BALANCING) */
  loadBalancing: LoadBalancerName | undefined;
  affinity: AffinityKind;
  /** a session unused for this long is forgotten (its replica is free again) */
  affinityTtlSec: number;
  /** bounded-load factor for placing new sessions (>= 1; 1 = perfectly even) */
  boundedLoadFactor: number;
  /** at most one active session per replica */
  exclusive: boolean;
  mode: PoolMode;
  /** how long sessions stay on a draining (or unhealthy) replica before they move */
  drainingTimeoutSec: number;
  /** bound on the pool's session table; least recently used sessions are evicted beyond it */
  maxSessions: number;
  healthCheck: HealthCheckPolicy | undefined;
  /** undefined: `outlier_detection: false` (members are never ejected on their calls' outcome) */
  outlier: OutlierPolicy | undefined;
}

export const DEFAULT_OUTLIER_POLICY: Readonly<OutlierPolicy> = Object.freeze({
  // the SDK's default call timeout: a call unanswered this long has failed for its caller
  unansweredSec: 30,
  ejectionSec: 30,
});

export const DEFAULT_POOL_POLICY: Readonly<Omit<PoolPolicy, "address">> = Object.freeze({
  loadBalancing: undefined,
  affinity: "none",
  affinityTtlSec: 300,
  boundedLoadFactor: 1.25,
  exclusive: false,
  mode: "multi-active",
  drainingTimeoutSec: 60,
  maxSessions: 100_000,
  healthCheck: undefined,
  outlier: DEFAULT_OUTLIER_POLICY,
});

export const DEFAULT_HEALTH_CHECK: Readonly<Omit<HealthCheckPolicy, "operation">> = Object.freeze({
  intervalSec: 5,
  timeoutMs: 1000,
  unhealthyThreshold: 2,
  healthyThreshold: 1,
});

/** pools one sentinel may be configured with; far above any real deployment */
export const MAX_POOL_POLICIES = 1000;
const DAY = 86_400;
const OPERATION = /^[A-Za-z0-9_.:-]{1,128}$/;

const POOL_KEYS: Readonly<Record<string, string>> = {
  address: "address",
  load_balancing: "loadBalancing",
  affinity: "affinity",
  affinity_ttl_sec: "affinityTtlSec",
  bounded_load_factor: "boundedLoadFactor",
  exclusive: "exclusive",
  mode: "mode",
  draining_timeout_sec: "drainingTimeoutSec",
  max_sessions: "maxSessions",
  health_check: "healthCheck",
  outlier_detection: "outlierDetection",
};

const OUTLIER_KEYS: Readonly<Record<string, string>> = {
  unanswered_sec: "unansweredSec",
  ejection_sec: "ejectionSec",
};

const HEALTH_KEYS: Readonly<Record<string, string>> = {
  operation: "operation",
  interval_sec: "intervalSec",
  timeout_ms: "timeoutMs",
  unhealthy_threshold: "unhealthyThreshold",
  healthy_threshold: "healthyThreshold",
};

/** A policy with every default filled in, for an address that has no entry. */
export function defaultPoolPolicy(address: string): PoolPolicy {
  return { address, ...DEFAULT_POOL_POLICY };
}

/**
 * Parse the raw `pools` list (undefined/null: no pools). `setting` prefixes every error,
 * e.g. `node.pools[1].affinity_ttl_sec`.
 */
export function parsePoolPolicies(raw: unknown, setting = "node.pools"): PoolPolicy[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new ConfigError(setting, "must be a list of pool entries");
  if (raw.length > MAX_POOL_POLICIES) throw new ConfigError(setting, `at most ${MAX_POOL_POLICIES} pools`);
  const seen = new Set<string>();
  return raw.map((entry, i) => {
    const policy = parsePoolPolicy(entry, `${setting}[${i}]`);
    if (seen.has(policy.address)) {
      throw new ConfigError(`${setting}[${i}].address`, `${policy.address} is configured twice`);
    }
    seen.add(policy.address);
    return policy;
  });
}

/** Parse one pool entry; `setting` is its path for error messages. */
export function parsePoolPolicy(raw: unknown, setting: string): PoolPolicy {
  const obj = mapping(raw, setting);
  const get = reader(obj, POOL_KEYS, setting);

  const address = get("address");
  if (typeof address.value !== "string" || parseLogicalAddress(address.value) === undefined) {
    throw new ConfigError(address.name, "must be a logical address like math@fame.fabric");
  }
  const policy = defaultPoolPolicy(address.value);
  const lb = get("load_balancing");
  if (lb.value !== undefined) policy.loadBalancing = oneOf(lb, LOAD_BALANCER_NAMES);
  const affinity = get("affinity");
  if (affinity.value !== undefined) policy.affinity = oneOf(affinity, AFFINITY_KINDS);
  const mode = get("mode");
  if (mode.value !== undefined) policy.mode = oneOf(mode, POOL_MODES);
  const ttl = get("affinity_ttl_sec");
  if (ttl.value !== undefined) policy.affinityTtlSec = integer(ttl, 1, 7 * DAY);
  const factor = get("bounded_load_factor");
  if (factor.value !== undefined) policy.boundedLoadFactor = decimal(factor, 1, 100);
  const exclusive = get("exclusive");
  if (exclusive.value !== undefined) policy.exclusive = boolean(exclusive);
  const draining = get("draining_timeout_sec");
  if (draining.value !== undefined) policy.drainingTimeoutSec = integer(draining, 0, DAY);
  const maxSessions = get("max_sessions");
  if (maxSessions.value !== undefined) policy.maxSessions = integer(maxSessions, 1, 10_000_000);
  const health = get("health_check");
  if (health.value !== undefined && health.value !== null) {
    policy.healthCheck = parseHealthCheck(health.value, health.name);
  }
  const outlier = get("outlier_detection");
  if (outlier.value !== undefined && outlier.value !== null) policy.outlier = parseOutlier(outlier);

  // Combinations that would silently mean something else are refused outright.
  if (policy.exclusive && policy.affinity !== "session") {
    throw new ConfigError(`${setting}.exclusive`, "needs affinity: session (sessions are what is exclusive)");
  }
  if (policy.mode === "single-active" && policy.affinity !== "none") {
    throw new ConfigError(
      `${setting}.affinity`,
      "must be none with mode: single-active (every call goes to the active replica)",
    );
  }
  return policy;
}

/** `false` turns ejection off, `true` keeps the defaults, a mapping sets them */
function parseOutlier(found: Found): OutlierPolicy | undefined {
  if (typeof found.value === "boolean" || found.value === "true" || found.value === "false") {
    return boolean(found) ? DEFAULT_OUTLIER_POLICY : undefined;
  }
  const get = reader(mapping(found.value, found.name), OUTLIER_KEYS, found.name);
  const out: OutlierPolicy = { ...DEFAULT_OUTLIER_POLICY };
  const unanswered = get("unanswered_sec");
  if (unanswered.value !== undefined) out.unansweredSec = integer(unanswered, 1, DAY);
  const ejection = get("ejection_sec");
  if (ejection.value !== undefined) out.ejectionSec = integer(ejection, 1, DAY);
  return out;
}

function parseHealthCheck(raw: unknown, setting: string): HealthCheckPolicy {
  const obj = mapping(raw, setting);
  const get = reader(obj, HEALTH_KEYS, setting);
  const operation = get("operation");
  if (typeof operation.value !== "string" || !OPERATION.test(operation.value)) {
    throw new ConfigError(operation.name, "must be an operation name (1-128 of A-Z a-z 0-9 _ . : -)");
  }
  const check: HealthCheckPolicy = { operation: operation.value, ...DEFAULT_HEALTH_CHECK };
  const interval = get("interval_sec");
  if (interval.value !== undefined) check.intervalSec = integer(interval, 1, 3600);
  const timeout = get("timeout_ms");
  if (timeout.value !== undefined) check.timeoutMs = integer(timeout, 50, 3_600_000);
  const bad = get("unhealthy_threshold");
  if (bad.value !== undefined) check.unhealthyThreshold = integer(bad, 1, 100);
  const good = get("healthy_threshold");
  if (good.value !== undefined) check.healthyThreshold = integer(good, 1, 100);
  if (check.timeoutMs >= check.intervalSec * 1000) {
    throw new ConfigError(timeout.name, `must be below interval_sec (${check.intervalSec * 1000} ms)`);
  }
  return check;
}

/**
 * Health probes come back to the sentinel's own physical address `health@/<sentinel id>`,
 * so the id must be a valid path segment when any pool is health-checked.
 */
export function checkHealthReplyPath(
  pools: readonly PoolPolicy[],
  sentinelId: string,
  setting: string,
): void {
  if (pools.some((p) => p.healthCheck !== undefined) && !isValidPath(`/${sentinelId}`)) {
    throw new ConfigError(
      setting,
      `must be 1-64 of A-Z a-z 0-9 _ when pools have health_check (probes reply to health@/${sentinelId})`,
    );
  }
}

// ───────────────────────── readers ─────────────────────────

interface Found {
  /** the path of the key for error messages, in its documented (snake_case) spelling */
  name: string;
  value: unknown;
}

function mapping(raw: unknown, setting: string): Record<string, unknown> {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError(setting, "must be a mapping");
  }
  return raw as Record<string, unknown>;
}

/** Refuses unknown keys up front; then reads a key under either spelling. */
function reader(
  obj: Record<string, unknown>,
  keys: Readonly<Record<string, string>>,
  setting: string,
): (snake: string) => Found {
  const known = new Set([...Object.keys(keys), ...Object.values(keys)]);
  for (const key of Object.keys(obj)) {
    if (!known.has(key)) throw new ConfigError(`${setting}.${key}`, "unknown key");
  }
  return (snake) => {
    const camel = keys[snake] ?? snake;
    const name = `${setting}.${snake}`;
    const a = obj[snake];
    const b = camel === snake ? undefined : obj[camel];
    if (a !== undefined && b !== undefined && a !== b) {
      throw new ConfigError(name, `conflicts with ${camel}`);
    }
    return { name, value: a ?? b };
  };
}

function oneOf<T extends string>(found: Found, allowed: readonly T[]): T {
  if (typeof found.value !== "string" || !(allowed as readonly string[]).includes(found.value)) {
    throw new ConfigError(
      found.name,
      `must be one of ${allowed.join(" | ")}, got ${JSON.stringify(found.value)}`,
    );
  }
  return found.value as T;
}

/** Integers, also as decimal strings (`${env:X:60}` interpolation yields text). */
function integer(found: Found, min: number, max: number): number {
  const v = found.value;
  const n = typeof v === "string" && /^-?\d{1,12}$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== "number" || !Number.isSafeInteger(n)) {
    throw new ConfigError(found.name, `must be an integer, got ${JSON.stringify(v)}`);
  }
  if (n < min || n > max) throw new ConfigError(found.name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function decimal(found: Found, min: number, max: number): number {
  const v = found.value;
  const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isFinite(n)) {
    throw new ConfigError(found.name, `must be a number, got ${JSON.stringify(v)}`);
  }
  if (n < min || n > max) throw new ConfigError(found.name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function boolean(found: Found): boolean {
  const v = found.value;
  if (typeof v === "boolean") return v;
  if (v === "true") return true;
  if (v === "false") return false;
  throw new ConfigError(found.name, `must be true or false, got ${JSON.stringify(v)}`);
}
