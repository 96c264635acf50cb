/**
 * JSON.stringify, faster for values that hold long strings. Under node 20, V8 serializes a
 * string one character at a time (~3 ns a character: ~200 µs for a 64 KiB payload, each time
 * it is sent), while checking that a string needs no escaping takes a few native searches
 * (~25 µs for 64 KiB). So a long string that needs no escaping is written between quotes as it
 * is, and everything else is left to JSON.stringify. The text is the same as JSON.stringify's,
 * character for character (a unit test compares them on random values).
 */

import { isWellFormed } from "./well-formed.js";

/** strings at least this long are checked and copied; shorter ones are cheaper to serialize */
export const LONG_JSON_STRING = 1024;
/** deeper values are left to JSON.stringify whole (the walk is recursive) */
const MAX_WALK_DEPTH = 64;

const PLAIN = 0;
const PLAIN_WITH_LONG_STRING = 1;
const NOT_PLAIN = 2;
type Shape = typeof PLAIN | typeof PLAIN_WITH_LONG_STRING | typeof NOT_PLAIN;

/** the characters JSON.stringify escapes in a well-formed string */
const ESCAPED: readonly string[] = [
  '"',
  "\\",
  ...Array.from({ length: 0x20 }, (_, c) => String.fromCharCode(c)),
];

/** JSON.stringify(value), the same text */
export function jsonText(value: unknown): string {
  if (shapeOf(value, 0) !== PLAIN_WITH_LONG_STRING) return JSON.stringify(value);
  return write(value);
}

/**
 * True when JSON.stringify would write `s` between quotes unchanged: no quote, backslash or
 * control character, and no lone surrogate (those it escapes).
 */
export function needsNoEscaping(s: string): boolean {
  if (!isWellFormed(s)) return false;
  for (const c of ESCAPED) if (s.indexOf(c) !== -1) return false;
  return true;
}

/**
 * PLAIN: only JSON types, which JSON.stringify writes as they are (plain objects without
 * toJSON, arrays, finite numbers, strings, booleans, null); PLAIN_WITH_LONG_STRING: the same,
 * holding a long string; NOT_PLAIN: anything JSON.stringify would transform or refuse.
 */
function shapeOf(value: unknown, depth: number): Shape {
  switch (typeof value) {
    case "string":
      return value.length >= LONG_JSON_STRING ? PLAIN_WITH_LONG_STRING : PLAIN;
    case "boolean":
      return PLAIN;
    case "number":
      return Number.isFinite(value) ? PLAIN : NOT_PLAIN;
    case "object":
      break;
    default:
      return NOT_PLAIN;
  }
  if (value === null) return PLAIN;
  if (depth >= MAX_WALK_DEPTH || "toJSON" in value) return NOT_PLAIN;
  let shape: Shape = PLAIN;
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) return NOT_PLAIN;
    for (let i = 0; i < value.length; i++) {
      const s = shapeOf(value[i], depth + 1);
      if (s === NOT_PLAIN) return NOT_PLAIN;
      if (s === PLAIN_WITH_LONG_STRING) shape = s;
    }
    return shape;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return NOT_PLAIN;
  const record = value as Record<string, unknown>;
  for (const key in record) {
    // inherited enumerable keys would be walked here but not written by JSON.stringify
    if (!Object.hasOwn(record, key)) return NOT_PLAIN;
    const s = shapeOf(record[key], depth + 1);
    if (s === NOT_PLAIN) return NOT_PLAIN;
    if (s === PLAIN_WITH_LONG_STRING) shape = s;
  }
  return shape;
}

/** the text of a value shapeOf found plain */
function write(value: unknown): string {
  if (typeof value === "string") {
    return value.length >= LONG_JSON_STRING && needsNoEscaping(value) ? `"${value}"` : JSON.stringify(value);
  }
  if (typeof value !== "object" || value === null) return JSON.stringify(value);
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) out += i === 0 ? write(value[i]) : `,${write(value[i])}`;
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  let out = "{";
  let first = true;
  for (const key of Object.keys(record)) {
    out += `${first ? "" : ","}${JSON.stringify(key)}:${write(record[key])}`;
    first = false;
  }
  return `${out}}`;
}
