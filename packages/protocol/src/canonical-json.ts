/**
 * Canonical JSON after RFC 8785 (JCS): object members sorted by their UTF-16 code units,
 * no whitespace, numbers and strings in ECMAScript JSON.stringify form. Two parties that
 * hold equal values produce identical bytes, which is what digests and signatures need.
 *
 * Stricter than JSON.stringify where it would otherwise guess: non-finite numbers, lone
 * surrogates, non-plain objects (Date, Map, class instances, toJSON tricks), `undefined`
 * array elements and cycles are refused. `undefined` object members are omitted, like JSON.
 */
import { utf8Bytes } from "@fame/crypto";
import { isWellFormed } from "./well-formed.js";

export class CanonicalJsonError extends Error {
  override readonly name = "CanonicalJsonError";
  /** JSON path of the offending value ("" for the root). */
  readonly path: string;
  constructor(path: string, message: string) {
    super(path === "" ? message : `${path}: ${message}`);
    this.path = path;
  }
}

/** Bounds recursion: deeper than any envelope the codec accepts. */
const MAX_DEPTH = 512;

function pathOf(stack: readonly (string | number)[]): string {
  let out = "";
  for (const seg of stack) out += typeof seg === "number" ? `[${seg}]` : `[${JSON.stringify(seg)}]`;
  return out;
}

function canonicalString(s: string, stack: readonly (string | number)[]): string {
  if (!isWellFormed(s)) throw new CanonicalJsonError(pathOf(stack), "string has a lone surrogate");
  return JSON.stringify(s);
}

export function canonicalJson(value: unknown): string {
  const stack: (string | number)[] = [];
  const ancestors = new Set<object>();

  const emit = (v: unknown): string => {
    switch (typeof v) {
      case "string":
        return canonicalString(v, stack);
      case "number":
        if (!Number.isFinite(v)) throw new CanonicalJsonError(pathOf(stack), "number is not finite");
        // ECMAScript Number-to-String is exactly the JCS number form; it also maps -0 to "0".
        return JSON.stringify(v);
      case "boolean":
        return v ? "true" : "false";
      case "object":
        break;
      default:
        throw new CanonicalJsonError(pathOf(stack), `${typeof v} is not a JSON value`);
    }
    if (v === null) return "null";
    if (ancestors.has(v)) throw new CanonicalJsonError(pathOf(stack), "cycle");
    if (stack.length >= MAX_DEPTH) throw new CanonicalJsonError(pathOf(stack), "nesting too deep");
    ancestors.add(v);
    let out: string;
    if (Array.isArray(v)) {
      const parts: string[] = [];
      for (let i = 0; i < v.length; i++) {
        stack.push(i);
        const item: unknown = v[i];
        if (item === undefined) throw new CanonicalJsonError(pathOf(stack), "undefined array element");
        parts.push(emit(item));
        stack.pop();
      }
      out = `[${parts.join(",")}]`;
    } else {
      const proto: unknown = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        throw new CanonicalJsonError(pathOf(stack), "not a plain object");
      }
      const obj = v as Record<string, unknown>;
      // Default sort compares UTF-16 code units, which is the order JCS prescribes.
      const keys = Object.keys(obj).sort();
      const parts: string[] = [];
      for (const key of keys) {
        const member = obj[key];
        if (member === undefined) continue;
        stack.push(key);
        parts.push(`${canonicalString(key, stack)}:${emit(member)}`);
        stack.pop();
      }
      out = `{${parts.join(",")}}`;
    }
    ancestors.delete(v);
    return out;
  };

  return emit(value);
}

/** UTF-8 bytes of canonicalJson(value). */
export function canonicalJsonBytes(value: unknown): Uint8Array {
  return utf8Bytes(canonicalJson(value));
}
