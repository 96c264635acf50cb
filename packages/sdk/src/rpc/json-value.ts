import type { JsonObject, JsonValue } from "./transport.js";

/**
 * Recursion bound for shape checks. The envelope codec already limits nesting (32 by default);
 * this guard only keeps a hostile or cyclic in-process value from exhausting the stack.
 */
export const MAX_JSON_DEPTH = 64;

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** True when `value` is made only of JSON types (finite numbers, plain objects, arrays). */
export function isJsonValue(value: unknown, depth = 0): value is JsonValue {
  if (value === null) return true;
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value);
    case "object":
      break;
    default:
      return false;
  }
  if (depth >= MAX_JSON_DEPTH) return false;
  if (Array.isArray(value)) {
    for (const item of value) if (!isJsonValue(item, depth + 1)) return false;
    return true;
  }
  if (!isPlainObject(value)) return false;
  for (const key of Object.keys(value)) if (!isJsonValue(value[key], depth + 1)) return false;
  return true;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return isPlainObject(value) && isJsonValue(value);
}

export type JsonConversion = { ok: true; value: JsonValue } | { ok: false; reason: string };

/**
 * Convert a value produced by local code (an operation's result, a caller's params) to JSON,
 * with JSON.stringify semantics: `toJSON` is honoured, undefined object fields are dropped and
 * a top-level undefined becomes null. BigInt, cycles and throwing `toJSON` are reported, not thrown.
 */
export function toJsonValue(value: unknown): JsonConversion {
  if (value === undefined) return { ok: true, value: null };
  // Plain JSON (the common case) is copied directly: a stringify/parse round trip per call
  // is a measurable share of a small call's cost.
  const copy = copyPlainJson(value, 0);
  if (copy !== NOT_PLAIN) return { ok: true, value: copy };
  try {
    const text = JSON.stringify(value);
    if (text === undefined) return { ok: false, reason: `a ${typeof value} is not JSON` };
    return { ok: true, value: JSON.parse(text) as JsonValue };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : "not JSON-serializable" };
  }
}

const NOT_PLAIN: unique symbol = Symbol("not plain JSON");

/**
 * A deep copy of `value` when it is made only of JSON types, as JSON.stringify would read it
 * (-0 becomes 0, as in JSON); NOT_PLAIN for anything else (undefined members, toJSON, class
 * instances, non-finite numbers…), which takes the stringify path with its exact semantics.
 */
function copyPlainJson(value: unknown, depth: number): JsonValue | typeof NOT_PLAIN {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      if (!Number.isFinite(value)) return NOT_PLAIN;
      return value === 0 ? 0 : value;
    case "object":
      break;
    default:
      return NOT_PLAIN;
  }
  if (value === null) return null;
  if (depth >= MAX_JSON_DEPTH) return NOT_PLAIN;
  if (Array.isArray(value)) {
    const out: JsonValue[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const item = copyPlainJson(value[i], depth + 1);
      if (item === NOT_PLAIN) return NOT_PLAIN;
      out[i] = item;
    }
    return out;
  }
  if (!isPlainObject(value) || "toJSON" in value) return NOT_PLAIN;
  const out: Record<string, JsonValue> = {};
  for (const key of Object.keys(value)) {
    // an own "__proto__" (JSON.parse makes those) would become the copy's prototype here
    if (key === "__proto__") return NOT_PLAIN;
    const item = copyPlainJson(value[key], depth + 1);
    if (item === NOT_PLAIN) return NOT_PLAIN;
    out[key] = item;
  }
  return out;
}
