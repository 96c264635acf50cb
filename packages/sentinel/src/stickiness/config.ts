/**
 * Configuration of the AFT stickiness manager, and a parser for the raw YAML/JSON block.
 * The parser accepts snake_case (YAML convention) and camelCase (JS convention) keys because
 * both appear in deployments; unknown keys are refused so a typo cannot silently fall back
 * to a default.
 */

export const SECURITY_LEVELS = ["strict", "signed-optional", "sid-only"] as const;
export type SecurityLevel = (typeof SECURITY_LEVELS)[number];

export const STICKINESS_MANAGER_TYPE = "AFTLoadBalancerStickinessManager";

export interface StickinessConfig {
  securityLevel: SecurityLevel;
  /** Lifetime of a pin that has no AFT `exp` to bound it (sid-only, unsigned-without-AFT). */
  defaultTtlSec: number;
  /** LRU bound on pins. */
  maxEntries: number;
  /** Drop a pin unused for this long; undefined = pins live until their expiry. */
  idleTtlSec?: number | undefined;
  /** Tolerated clock difference between replica and sentinel for `iat`/`exp`. */
  clockSkewSec: number;
  /** Longest AFT lifetime (`exp - iat`) accepted; bounds how long a leaked tag is useful. */
  maxAftLifetimeSec: number;
}

export const DEFAULT_STICKINESS_CONFIG: Readonly<StickinessConfig> = Object.freeze({
  securityLevel: "strict",
  defaultTtlSec: 300,
  maxEntries: 100_000,
  idleTtlSec: undefined,
  clockSkewSec: 30,
  maxAftLifetimeSec: 86_400,
});

export class StickinessConfigError extends Error {
  override readonly name = "StickinessConfigError";
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`stickiness.${key}: ${message}`);
  }
}

interface NumberRule {
  field: Exclude<keyof StickinessConfig, "securityLevel">;
  snake: string;
  min: number;
  max: number;
}

const DAY = 86_400;
const NUMBER_RULES: readonly NumberRule[] = [
  { field: "defaultTtlSec", snake: "default_ttl_sec", min: 1, max: 7 * DAY },
  { field: "maxEntries", snake: "max_entries", min: 1, max: 10_000_000 },
  { field: "idleTtlSec", snake: "idle_ttl_sec", min: 1, max: 7 * DAY },
  { field: "clockSkewSec", snake: "clock_skew_sec", min: 0, max: 3600 },
  { field: "maxAftLifetimeSec", snake: "max_aft_lifetime_sec", min: 1, max: 7 * DAY },
];

const KNOWN_KEYS = new Set<string>([
  "type",
  "security_level",
  "securityLevel",
  ...NUMBER_RULES.flatMap((r) => [r.snake, r.field]),
]);

/**
 * Parse a raw `stickiness` block. `undefined`/`null` give the defaults. Throws a
 * StickinessConfigError naming the offending key on unknown keys, wrong types, out-of-range
 * numbers, a wrong `type`, or both spellings of one key with different values.
 */
export function parseStickinessConfig(raw: unknown): StickinessConfig {
  const config: StickinessConfig = { ...DEFAULT_STICKINESS_CONFIG };
  if (raw === undefined || raw === null) return config;
  if (typeof raw !== "object" || Array.isArray(raw))
    throw new StickinessConfigError("(root)", "must be a mapping");
  const obj = raw as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!KNOWN_KEYS.has(key)) throw new StickinessConfigError(key, "unknown key");
  }

  if (obj["type"] !== undefined && obj["type"] !== STICKINESS_MANAGER_TYPE) {
    throw new StickinessConfigError("type", `must be ${STICKINESS_MANAGER_TYPE}`);
  }

  const level = either(obj, "security_level", "securityLevel");
  if (level !== undefined) {
    if (typeof level.value !== "string" || !(SECURITY_LEVELS as readonly string[]).includes(level.value)) {
      throw new StickinessConfigError(level.key, `must be one of ${SECURITY_LEVELS.join(", ")}`);
    }
    config.securityLevel = level.value as SecurityLevel;
  }

  for (const rule of NUMBER_RULES) {
    const found = either(obj, rule.snake, rule.field);
    if (found !== undefined) config[rule.field] = toInteger(found.key, found.value, rule.min, rule.max);
  }
  return config;
}

/** The value under either spelling; refuses conflicting values so the meaning is never ambiguous. */
function either(
  obj: Record<string, unknown>,
  snake: string,
  camel: string,
): { key: string; value: unknown } | undefined {
  const a = obj[snake];
  const b = obj[camel];
  if (a !== undefined && b !== undefined && a !== b) {
    throw new StickinessConfigError(snake, `conflicts with ${camel}`);
  }
  if (a !== undefined) return { key: snake, value: a };
  if (b !== undefined) return { key: camel, value: b };
  return undefined;
}

/** Integers, also as decimal strings (environment overrides arrive as text). */
function toInteger(key: string, value: unknown, min: number, max: number): number {
  const n = typeof value === "string" && /^\d{1,10}$/.test(value) ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n))
    throw new StickinessConfigError(key, "must be an integer");
  if (n < min || n > max) throw new StickinessConfigError(key, `must be between ${min} and ${max}`);
  return n;
}
