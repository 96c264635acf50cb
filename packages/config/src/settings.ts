import { ConfigError } from "./errors.js";

// Typed readers for one setting. Each takes the raw value (from env or YAML)
// and the setting's name, so every refusal names what to fix.

/** Unset, in env terms: YAML null and an empty variable count as not given. */
function isAbsent(raw: unknown): raw is undefined | null | "" {
  return raw === undefined || raw === null || raw === "";
}

export interface NumberOptions {
  fallback?: number;
  min?: number;
  max?: number;
}

function inRange(n: number, setting: string, opts: NumberOptions): number {
  if (opts.min !== undefined && n < opts.min)
    throw new ConfigError(setting, `must be ≥ ${opts.min}, got ${n}`);
  if (opts.max !== undefined && n > opts.max)
    throw new ConfigError(setting, `must be ≤ ${opts.max}, got ${n}`);
  return n;
}

export function readString(raw: unknown, setting: string, fallback?: string): string {
  if (isAbsent(raw)) {
    if (fallback !== undefined) return fallback;
    throw new ConfigError(setting, "is required");
  }
  if (typeof raw !== "string" && typeof raw !== "number") throw new ConfigError(setting, "must be a string");
  return String(raw);
}

export function readOptionalString(raw: unknown, setting: string): string | undefined {
  if (isAbsent(raw)) return undefined;
  return readString(raw, setting);
}

export function readInt(raw: unknown, setting: string, opts: NumberOptions = {}): number {
  if (isAbsent(raw)) {
    if (opts.fallback !== undefined) return opts.fallback;
    throw new ConfigError(setting, "is required");
  }
  const n =
    typeof raw === "number" ? raw : typeof raw === "string" && /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n))
    throw new ConfigError(setting, `must be an integer, got ${JSON.stringify(raw)}`);
  return inRange(n, setting, opts);
}

export function readNumber(raw: unknown, setting: string, opts: NumberOptions = {}): number {
  if (isAbsent(raw)) {
    if (opts.fallback !== undefined) return opts.fallback;
    throw new ConfigError(setting, "is required");
  }
  const n = typeof raw === "number" ? raw : typeof raw === "string" ? Number(raw.trim()) : NaN;
  if (!Number.isFinite(n)) throw new ConfigError(setting, `must be a number, got ${JSON.stringify(raw)}`);
  return inRange(n, setting, opts);
}

export function readBool(raw: unknown, setting: string, fallback: boolean): boolean {
  if (isAbsent(raw)) return fallback;
  if (typeof raw === "boolean") return raw;
  const s = String(raw).toLowerCase();
  if (["1", "true", "yes", "on"].includes(s)) return true;
  if (["0", "false", "no", "off"].includes(s)) return false;
  throw new ConfigError(setting, `must be true or false, got ${JSON.stringify(raw)}`);
}

export function readEnum<T extends string>(
  raw: unknown,
  setting: string,
  allowed: readonly T[],
  fallback?: T,
): T {
  const s = readString(raw, setting, fallback);
  if (!(allowed as readonly string[]).includes(s)) {
    throw new ConfigError(setting, `must be one of ${allowed.join(" | ")}, got "${s}"`);
  }
  return s as T;
}

export function readUrl(
  raw: unknown,
  setting: string,
  opts: { fallback?: string; protocols?: string[] } = {},
): URL {
  const s = readString(raw, setting, opts.fallback);
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    throw new ConfigError(setting, `must be an absolute URL, got "${s}"`);
  }
  if (opts.protocols && !opts.protocols.includes(url.protocol)) {
    throw new ConfigError(setting, `must use ${opts.protocols.join(" or ")}, got "${url.protocol}"`);
  }
  return url;
}

/**
 * A URL's text without its trailing slash, for issuers and base URLs that are compared as
 * strings or have paths appended ("https://h/" and "https://h" name the same issuer).
 */
export function withoutTrailingSlash(s: string): string {
  return s.endsWith("/") ? s.slice(0, -1) : s;
}

export function readPort(raw: unknown, setting: string, fallback: number): number {
  return readInt(raw, setting, { fallback, min: 0, max: 65535 });
}

/** Walks a camelCase path like "node.stickiness.securityLevel" in a config tree. */
export function pick(tree: Record<string, unknown>, path: string): unknown {
  let cur: unknown = tree;
  for (const part of path.split(".")) {
    if (cur === null || typeof cur !== "object" || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}
