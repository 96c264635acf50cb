/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) headers, parsed strictly: these
 * values arrive from the network (an envelope header at the sentinel, a request member at a
 * replica), so anything but the exact version-00 form is refused rather than repaired.
 */
import { createTraceState, type SpanContext, TraceFlags } from "@opentelemetry/api";

/** `00-<32 hex>-<16 hex>-<2 hex>`: version 00 has exactly this length. */
export const TRACEPARENT_LENGTH = 55;
/** The W3C limit for a whole tracestate header. */
export const MAX_TRACESTATE_LENGTH = 512;
const MAX_TRACESTATE_MEMBERS = 32;

/** lowercase hex digit */
function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66);
}

function hexRun(s: string, from: number, to: number): boolean {
  let nonZero = false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (!isHex(c)) return false;
    if (c !== 0x30) nonZero = true;
  }
  return nonZero;
}

/**
 * The span context in a `traceparent` value, or undefined when it is not exactly
 * `00-<trace id>-<parent id>-<flags>` with lowercase hex and non-zero ids. Other versions are
 * refused too: a future version may mean something this code does not know.
 */
export function parseTraceparent(value: unknown): SpanContext | undefined {
  if (typeof value !== "string" || value.length !== TRACEPARENT_LENGTH) return undefined;
  if (value.charCodeAt(0) !== 0x30 || value.charCodeAt(1) !== 0x30) return undefined;
  if (value[2] !== "-" || value[35] !== "-" || value[52] !== "-") return undefined;
  if (!hexRun(value, 3, 35) || !hexRun(value, 36, 52)) return undefined;
  const f1 = value.charCodeAt(53);
  const f2 = value.charCodeAt(54);
  if (!isHex(f1) || !isHex(f2)) return undefined;
  return {
    traceId: value.slice(3, 35),
    spanId: value.slice(36, 52),
    traceFlags: Number.parseInt(value.slice(53, 55), 16),
    isRemote: true,
  };
}

/** `traceparent` for a span context (version 00). */
export function formatTraceparent(ctx: Pick<SpanContext, "traceId" | "spanId" | "traceFlags">): string {
  const flags = (ctx.traceFlags & 0xff).toString(16).padStart(2, "0");
  return `00-${ctx.traceId}-${ctx.spanId}-${flags}`;
}

/** Whether the sampled flag is set: only then do the sentinel and replicas record a span. */
export function isSampled(ctx: Pick<SpanContext, "traceFlags">): boolean {
  return (ctx.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED;
}

/** printable ASCII and tab (optional white space around members) */
const TRACESTATE_CHARS = /^[\t\x20-\x7e]*$/;
const OWS = /^[ \t]+|[ \t]+$/g;
const TRACESTATE_MEMBER =
  /^[a-z0-9][a-z0-9_\-*/@]{0,255}=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;

/**
 * A `tracestate` value when it is a well-formed list (at most 512 characters, 32 members of
 * `key=value`), else undefined. Vendors put what they like in it, so it only ever travels
 * inside the sealed record, never in an envelope header.
 */
export function checkTracestate(value: unknown): string | undefined {
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_TRACESTATE_LENGTH)
    return undefined;
  if (!TRACESTATE_CHARS.test(value)) return undefined;
  const members = value.split(",");
  if (members.length > MAX_TRACESTATE_MEMBERS) return undefined;
  for (const m of members) {
    const t = m.replace(OWS, "");
    if (t.length > 0 && !TRACESTATE_MEMBER.test(t)) return undefined;
  }
  return value;
}

/**
 * The remote parent a request names: its traceparent, with its tracestate when that is well
 * formed too (a malformed tracestate is dropped, the W3C rule, and the parent kept).
 */
export function parseTraceContext(traceparent: unknown, tracestate: unknown): SpanContext | undefined {
  const parent = parseTraceparent(traceparent);
  if (parent === undefined || tracestate === undefined) return parent;
  const state = checkTracestate(tracestate);
  return state === undefined ? parent : { ...parent, traceState: createTraceState(state) };
}
