import { ConfigError } from "./errors.js";

// ${env:NAME} or ${env:NAME:default}; the default may be empty and may contain ':'
const PATTERN = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}/g;

/**
 * Replaces `${env:NAME:default}` in every string of a parsed YAML tree. A
 * reference with no default to an unset variable is an error naming both the
 * variable and the YAML path, so a missing secret never becomes "".
 */
export function interpolateEnv(value: unknown, env: NodeJS.ProcessEnv, path = ""): unknown {
  if (typeof value === "string") {
    return value.replace(PATTERN, (_m, name: string, fallback: string | undefined) => {
      const v = env[name];
      if (v !== undefined) return v;
      if (fallback !== undefined) return fallback;
      throw new ConfigError(
        path || "<root>",
        `references \${env:${name}} which is not set and has no default`,
      );
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolateEnv(v, env, `${path}[${i}]`));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolateEnv(v, env, path ? `${path}.${k}` : k);
    return out;
  }
  return value;
}

/** snake_case → camelCase, so YAML may use either spelling. */
export function camelKey(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * UPPER_SNAKE keys name environment variables (the `env:` block): camel-casing
 * would drop the underscore before a digit (FAME_TLS_1_3), so they stay as written.
 */
const ENV_STYLE_KEY = /^[A-Z][A-Z0-9_]*$/;

/** Rewrites every object key to camelCase; two spellings of one key are an error. */
export function normalizeKeys(value: unknown, path = ""): unknown {
  if (Array.isArray(value)) return value.map((v, i) => normalizeKeys(v, `${path}[${i}]`));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const ck = ENV_STYLE_KEY.test(k) ? k : camelKey(k);
      const p = path ? `${path}.${k}` : k;
      if (Object.hasOwn(out, ck)) throw new ConfigError(p, `given twice (as snake_case and camelCase)`);
      out[ck] = normalizeKeys(v, p);
    }
    return out;
  }
  return value;
}
