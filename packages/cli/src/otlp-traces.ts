/**
 * Spans from OTLP/HTTP JSON exports (what every FAME process sends when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set), gathered into traces and drawn as trees for a terminal.
 * The input comes from the network: its shape is checked as it is read, sizes are bounded, and
 * anything malformed is refused as a whole (the sender is told 400).
 */
import { oneLine } from "./format.js";

export interface TraceSpan {
  traceId: string;
  spanId: string;
  /** "" for a root span */
  parentSpanId: string;
  name: string;
  /** service.name of the process that made it */
  service: string;
  startNs: bigint;
  endNs: bigint;
  /** status.code 2 (error), with its message */
  error: string | undefined;
  /** the few attributes worth a glance: fame.* and rpc.* ones, as text */
  attributes: Record<string, string>;
}

export class OtlpShapeError extends Error {}

/** attributes shown next to a span (the rest stays in the exporter's data) */
const SHOWN_ATTRIBUTE = /^(fame\.|rpc\.method$|rpc\.service$)/;
const MAX_ATTRIBUTES = 16;
const MAX_TEXT = 200;
/** longer attribute keys are dropped (no key of ours comes near) */
const MAX_KEY = 128;

type Obj = Record<string, unknown>;

function obj(v: unknown, where: string): Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new OtlpShapeError(`${where}: not an object`);
  return v as Obj;
}

function list(v: unknown, where: string): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new OtlpShapeError(`${where}: not a list`);
  return v;
}

/** OTLP/JSON ids are hex; the protobuf JSON mapping gives base64: both accepted */
function id(v: unknown, where: string, bytes: number, optional = false): string {
  if (v === undefined || v === "") {
    if (optional) return "";
    throw new OtlpShapeError(`${where}: missing`);
  }
  if (typeof v !== "string" || v.length > 64) throw new OtlpShapeError(`${where}: not an id`);
  const hex =
    /^[0-9a-fA-F]+$/.test(v) && v.length === bytes * 2
      ? v.toLowerCase()
      : Buffer.from(v, "base64").toString("hex");
  if (hex.length !== bytes * 2) throw new OtlpShapeError(`${where}: not a ${bytes}-byte id`);
  return hex;
}

function nanos(v: unknown, where: string): bigint {
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === "string" && /^\d{1,20}$/.test(v)) return BigInt(v);
  throw new OtlpShapeError(`${where}: not a time in nanoseconds`);
}

function text(v: unknown): string {
  const s = typeof v === "string" ? v : String(v);
  return s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT)}…` : s;
}

function attributeValue(v: unknown): string | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const o = v as Obj;
  for (const k of ["stringValue", "intValue", "doubleValue", "boolValue"])
    if (o[k] !== undefined) return text(o[k]);
  return undefined;
}

function attributes(v: unknown, where: string, shown: RegExp | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  let n = 0;
  for (const a of list(v, where)) {
    const { key, value } = obj(a, where);
    if (typeof key !== "string") throw new OtlpShapeError(`${where}: attribute without a key`);
    if (key.length > MAX_KEY || (shown !== undefined && !shown.test(key))) continue;
    const s = attributeValue(value);
    if (s !== undefined && n++ < MAX_ATTRIBUTES) out[key] = s;
  }
  return out;
}

/** The spans of one export request (ExportTraceServiceRequest as JSON). */
export function spansOf(body: unknown): TraceSpan[] {
  const out: TraceSpan[] = [];
  for (const rs of list(obj(body, "request").resourceSpans, "resourceSpans")) {
    const r = obj(rs, "resourceSpans[]");
    const resource = r.resource === undefined ? {} : obj(r.resource, "resource");
    const service =
      attributes(resource.attributes, "resource.attributes", /^service\.name$/)["service.name"] ?? "?";
    for (const ss of list(r.scopeSpans, "scopeSpans")) {
      for (const sp of list(obj(ss, "scopeSpans[]").spans, "spans")) {
        const s = obj(sp, "span");
        const status = s.status === undefined ? {} : obj(s.status, "span.status");
        out.push({
          traceId: id(s.traceId, "span.traceId", 16),
          spanId: id(s.spanId, "span.spanId", 8),
          parentSpanId: id(s.parentSpanId, "span.parentSpanId", 8, true),
          name: text(typeof s.name === "string" ? s.name : "?"),
          service: text(service),
          startNs: nanos(s.startTimeUnixNano, "span.startTimeUnixNano"),
          endNs: nanos(s.endTimeUnixNano, "span.endTimeUnixNano"),
          error: status.code === 2 ? text(status.message ?? "error") : undefined,
          attributes: attributes(s.attributes, "span.attributes", SHOWN_ATTRIBUTE),
        });
      }
    }
  }
  return out;
}

const ms = (ns: bigint): string => `${(Number(ns) / 1e6).toFixed(2)} ms`;

/**
 * One trace as lines: a heading, then each span under its parent, children in the order they
 * started. A span whose parent was not received (another process, not exporting here) starts
 * a tree of its own.
 */
/**
 * The trace as an indented tree with a heading. `continued`: an earlier block of the same trace
 * was drawn already (spans that came after it went quiet, e.g. a call slower than --quiet).
 * Spans whose parent is not among these are drawn at the top, marked.
 */
export function renderTrace(spans: readonly TraceSpan[], dropped = 0, continued = false): string[] {
  if (spans.length === 0) return [];
  const byParent = new Map<string, TraceSpan[]>();
  const ids = new Set(spans.map((s) => s.spanId));
  for (const s of spans) {
    const parent = ids.has(s.parentSpanId) ? s.parentSpanId : "";
    const siblings = byParent.get(parent);
    if (siblings === undefined) byParent.set(parent, [s]);
    else siblings.push(s);
  }
  for (const siblings of byParent.values())
    siblings.sort((a, b) => (a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0));
  let first = spans[0]!.startNs;
  let last = spans[0]!.endNs;
  for (const s of spans) {
    if (s.startNs < first) first = s.startNs;
    if (s.endNs > last) last = s.endNs;
  }
  const errors = spans.filter((s) => s.error !== undefined).length;
  // Any process that saw a call's traceparent can export spans into its trace: a span id used
  // twice means one of them is not what it says, so both are drawn and both are marked.
  const uses = new Map<string, number>();
  for (const s of spans) uses.set(s.spanId, (uses.get(s.spanId) ?? 0) + 1);
  const rows: [label: string, service: string, took: string, note: string][] = [];
  const seen = new Set<TraceSpan>();
  const walk = (parent: string, depth: number, cycle: boolean): void => {
    for (const s of byParent.get(parent) ?? []) {
      if (seen.has(s) || depth > 64) continue; // a cycle in hostile input ends here
      seen.add(s);
      const attrs = Object.entries(s.attributes)
        .map(([k, v]) => `${k}=${v}`)
        .join(" ");
      const orphan = depth === 0 && s.parentSpanId !== "" && !ids.has(s.parentSpanId);
      const note = [
        s.error === undefined ? "" : `ERROR ${s.error}`,
        attrs,
        orphan ? `(parent ${s.parentSpanId.slice(0, 8)}… ${continued ? "drawn before" : "not seen"})` : "",
        cycle && depth === 0 ? "(its parents form a cycle)" : "",
        (uses.get(s.spanId) ?? 0) > 1 ? "(span id used by another span too: one of them is forged)" : "",
      ]
        .filter(Boolean)
        .join("  ");
      rows.push([
        oneLine(`${"  ".repeat(depth + 1)}${s.name}`),
        oneLine(s.service),
        ms(s.endNs - s.startNs),
        oneLine(note),
      ]);
      walk(s.spanId, depth + 1, false);
    }
  };
  walk("", 0, false);
  // spans no root leads to (each other's parents): drawn too, from the earliest
  const CYCLE = "\u0000cycle"; // no span id looks like this
  for (const s of [...spans].sort((a, b) => (a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0))) {
    if (seen.has(s)) continue;
    byParent.set(CYCLE, [s]);
    walk(CYCLE, 0, true);
  }
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  const w2 = Math.max(...rows.map((r) => r[2].length));
  const heading =
    `trace ${oneLine(spans[0]!.traceId)}${continued ? " (continued)" : ""} · ${spans.length} span${spans.length === 1 ? "" : "s"} · ${ms(last - first)}` +
    (errors > 0 ? ` · ${errors} error${errors === 1 ? "" : "s"}` : "") +
    (dropped > 0 ? ` · ${dropped} more spans not kept` : "");
  return [
    heading,
    ...rows.map(([a, b, c, d]) =>
      `${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c.padStart(w2)}${d ? `  ${d}` : ""}`.trimEnd(),
    ),
  ];
}

interface Pending {
  spans: TraceSpan[];
  dropped: number;
  firstAt: number;
  lastAt: number;
  bytes: number;
}

/** roughly what a span holds in memory: its strings and a fixed part */
function spanBytes(s: TraceSpan): number {
  let n = 160 + s.name.length + s.service.length + (s.error?.length ?? 0);
  for (const k in s.attributes) n += k.length + (s.attributes[k]?.length ?? 0) + 32;
  return n * 2;
}

export interface AssemblerLimits {
  /** a trace is handed on once no span of it came for this long */
  quietMs: number;
  /** traces waiting at most (the one waiting longest goes out early) */
  maxTraces: number;
  /** spans kept of one trace (the rest are counted) */
  maxSpansPerTrace: number;
  /** what all waiting traces hold at most, roughly (the oldest go out early) */
  maxBytes: number;
  /** a trace still receiving spans after this long is handed on as it is */
  maxWaitMs: number;
}

const DEFAULT_LIMITS: AssemblerLimits = {
  quietMs: 1000,
  maxTraces: 1000,
  maxSpansPerTrace: 1000,
  maxBytes: 64 * 1024 * 1024,
  maxWaitMs: 30_000,
};

/**
 * Spans as they arrive, handed on as whole traces once no span of a trace came for a while
 * (the processes of a call export on their own schedules). Bounded in traces, spans per
 * trace, bytes and time waiting, whatever the exporters send.
 */
export class TraceAssembler {
  private readonly pending = new Map<string, Pending>();
  private readonly limits: AssemblerLimits;
  private bytes = 0;
  spansReceived = 0;
  tracesDone = 0;

  /** traces drawn lately (bounded, oldest out first): a later block of one is a continuation */
  private readonly drawn = new Set<string>();

  constructor(
    private readonly done: (spans: TraceSpan[], dropped: number, continued: boolean) => void,
    limits: Partial<AssemblerLimits> = {},
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  add(spans: readonly TraceSpan[], now: number): void {
    const lim = this.limits;
    for (const s of spans) {
      this.spansReceived++;
      let p = this.pending.get(s.traceId);
      if (p === undefined) {
        if (this.pending.size >= lim.maxTraces) this.emitOldest();
        p = { spans: [], dropped: 0, firstAt: now, lastAt: now, bytes: 0 };
        this.pending.set(s.traceId, p);
      }
      p.lastAt = now;
      if (p.spans.length >= lim.maxSpansPerTrace) {
        p.dropped++;
        continue;
      }
      const size = spanBytes(s);
      p.spans.push(s);
      p.bytes += size;
      this.bytes += size;
      while (this.bytes > lim.maxBytes && this.pending.size > 0) this.emitOldest();
    }
  }

  /** hands on every trace quiet for quietMs or waiting for maxWaitMs (all of them with `all`) */
  flush(now: number, all = false): void {
    const lim = this.limits;
    for (const [traceId, p] of this.pending) {
      if (!all && now - p.lastAt < lim.quietMs && now - p.firstAt < lim.maxWaitMs) continue;
      this.emit(traceId, p);
    }
  }

  get waiting(): number {
    return this.pending.size;
  }

  /** roughly what the waiting traces hold */
  get waitingBytes(): number {
    return this.bytes;
  }

  private emitOldest(): void {
    const [traceId, p] = this.pending.entries().next().value as [string, Pending];
    this.emit(traceId, p);
  }

  private emit(traceId: string, p: Pending): void {
    this.pending.delete(traceId);
    this.bytes -= p.bytes;
    this.tracesDone++;
    const continued = this.drawn.has(traceId);
    if (!continued) {
      if (this.drawn.size >= this.limits.maxTraces) this.drawn.delete(this.drawn.values().next().value!);
      this.drawn.add(traceId);
    }
    this.done(p.spans, p.dropped, continued);
  }
}
