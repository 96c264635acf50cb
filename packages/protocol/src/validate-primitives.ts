/**
 * Building blocks for the hand-written validators. Every check is bounded in time by the
 * size of its input and reports failures only as ProtocolError with a JSON path.
 * Messages never quote input values: they end up in logs and in nacks sent to peers.
 */
import { base64urlByteLength } from "./base64.js";
import type { Limits } from "./limits.js";
import { ProtocolError } from "./protocol-error.js";
import { isWellFormed } from "./well-formed.js";

export type Obj = Record<string, unknown>;

export interface Ctx {
  readonly limits: Readonly<Limits>;
  /**
   * Remaining allowance for payload work, in roughly text bytes. Parsed text can never
   * exhaust it; it exists for already-built objects, where shared sub-objects could
   * otherwise make a small value look exponentially large to a walker.
   */
  budget: number;
}

export function fail(field: string, message: string): never {
  throw new ProtocolError("bad_envelope", field, message);
}

const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$]{0,63}$/;

/** Path segment for a key that may be hostile: long or odd keys are shortened and quoted. */
export function keySegment(key: string): string {
  if (PLAIN_KEY.test(key)) return key;
  const shown = key.length > 32 ? `${key.slice(0, 32)}…` : key;
  // JSON.stringify leaves line separators and bidi controls as they are: escaped here, so a
  // key cannot reorder or break the log line or error text it is shown in
  return `[${JSON.stringify(shown).replace(/[\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`)}]`;
}

export function join(base: string, key: string): string {
  const seg = keySegment(key);
  if (base === "" || seg.startsWith("[")) return `${base}${seg}`;
  return `${base}.${seg}`;
}

export function expectObject(value: unknown, field: string): Obj {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail(field, "must be an object");
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) fail(field, "must be a plain object");
  return value as Obj;
}

/**
 * Own members only: a polluted Object.prototype must not be able to supply a field.
 * `undefined` counts as absent, matching what JSON.stringify would send.
 */
export function get(o: Obj, key: string): unknown {
  return Object.hasOwn(o, key) ? o[key] : undefined;
}

export function checkKeys(o: Obj, allowed: ReadonlySet<string>, field: string): void {
  for (const key of Object.keys(o)) {
    if (!allowed.has(key)) fail(join(field, key), "unknown field");
  }
}

export function expectArray(value: unknown, field: string, max: number): readonly unknown[] {
  if (!Array.isArray(value)) fail(field, "must be an array");
  if (value.length > max) fail(field, `at most ${max} entries`);
  return value;
}

export function expectString(value: unknown, field: string, max: number): string {
  if (typeof value !== "string") fail(field, "must be a string");
  if (value.length > max) fail(field, `longer than ${max}`);
  if (!isWellFormed(value)) fail(field, "contains a lone surrogate");
  return value;
}

/** Pattern-checked strings: the patterns are ASCII-only, so well-formedness is implied. */
export function expectMatch(value: unknown, field: string, pattern: RegExp, what: string): string {
  if (typeof value !== "string" || !pattern.test(value)) fail(field, `must be ${what}`);
  return value;
}

export function expectBoolean(value: unknown, field: string): boolean {
  if (typeof value !== "boolean") fail(field, "must be a boolean");
  return value;
}

export function expectInteger(value: unknown, field: string, min: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value)) fail(field, "must be an integer");
  if (value < min) fail(field, `must be >= ${min}`);
  return value;
}

export function expectLiteral<T extends string>(value: unknown, field: string, allowed: readonly T[]): T {
  for (const a of allowed) if (value === a) return a;
  fail(field, `must be one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}`);
}

/** base64url of exactly `len` bytes, or of `min..max` bytes. */
export function expectBase64url(value: unknown, field: string, min: number, max = min): string {
  if (typeof value !== "string") fail(field, "must be a string");
  // Refuse by length first so a huge string is not regex-scanned for nothing.
  if (value.length > Math.ceil((max * 4) / 3)) fail(field, `must encode at most ${max} bytes`);
  const n = base64urlByteLength(value);
  if (n < 0) fail(field, "must be strict base64url");
  if (n < min || n > max)
    fail(field, min === max ? `must encode ${min} bytes` : `must encode ${min}..${max} bytes`);
  return value;
}

function formatPath(base: string, path: readonly (string | number)[]): string {
  let out = base;
  for (const seg of path) out = typeof seg === "number" ? `${out}[${seg}]` : join(out, seg);
  return out;
}

function spend(ctx: Ctx, amount: number, base: string, path: readonly (string | number)[]): void {
  ctx.budget -= amount;
  if (ctx.budget < 0) {
    throw new ProtocolError(
      "frame_too_large",
      formatPath(base, path),
      "value is larger than the frame limit",
    );
  }
}

/**
 * Check an arbitrary JSON value (Data.payload). Recursion is safe because depth is capped
 * by limits.maxDepth (itself capped well below the stack limit). The path is a shared stack
 * and is only turned into a string when something fails.
 */
export function checkJsonValue(value: unknown, depth: number, ctx: Ctx, base: string): void {
  const path: (string | number)[] = [];
  const walk = (v: unknown, d: number): void => {
    switch (typeof v) {
      case "string":
        spend(ctx, v.length + 2, base, path);
        if (!isWellFormed(v)) fail(formatPath(base, path), "contains a lone surrogate");
        return;
      case "number":
        if (!Number.isFinite(v)) fail(formatPath(base, path), "must be a finite number");
        spend(ctx, 1, base, path);
        return;
      case "boolean":
        spend(ctx, 4, base, path);
        return;
      case "object":
        break;
      default:
        fail(formatPath(base, path), "not a JSON value");
    }
    if (v === null) {
      spend(ctx, 4, base, path);
      return;
    }
    if (d + 1 > ctx.limits.maxDepth)
      fail(formatPath(base, path), `nesting deeper than ${ctx.limits.maxDepth}`);
    spend(ctx, 2, base, path);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        path.push(i);
        walk(v[i], d + 1);
        path.pop();
      }
      return;
    }
    const o = expectObject(v, formatPath(base, path));
    for (const key of Object.keys(o)) {
      path.push(key);
      if (key === "__proto__") fail(formatPath(base, path), "forbidden key");
      spend(ctx, key.length + 3, base, path);
      if (!isWellFormed(key)) fail(formatPath(base, path), "key contains a lone surrogate");
      const member = o[key];
      // Omitted like JSON.stringify and canonicalJson do; lets callers build payloads with optional members.
      if (member !== undefined) walk(member, d + 1);
      path.pop();
    }
  };
  walk(value, depth);
}
