import { describe, expect, it } from "vitest";
import { hashAttribute } from "../src/attribute-hash.js";
import {
  checkTracestate,
  formatTraceparent,
  isSampled,
  parseTraceContext,
  parseTraceparent,
} from "../src/trace-context.js";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";

describe("parseTraceparent", () => {
  it("reads the W3C example and formats it back", () => {
    const ctx = parseTraceparent(`00-${TRACE}-${SPAN}-01`);
    expect(ctx).toEqual({ traceId: TRACE, spanId: SPAN, traceFlags: 1, isRemote: true });
    expect(formatTraceparent(ctx!)).toBe(`00-${TRACE}-${SPAN}-01`);
    expect(isSampled(ctx!)).toBe(true);
    expect(isSampled(parseTraceparent(`00-${TRACE}-${SPAN}-00`)!)).toBe(false);
  });

  it.each([
    ["not a string", 42],
    ["empty", ""],
    ["upper-case hex", `00-${TRACE.toUpperCase()}-${SPAN}-01`],
    ["zero trace id", `00-${"0".repeat(32)}-${SPAN}-01`],
    ["zero span id", `00-${TRACE}-${"0".repeat(16)}-01`],
    ["another version", `01-${TRACE}-${SPAN}-01`],
    ["version ff", `ff-${TRACE}-${SPAN}-01`],
    ["trailing fields", `00-${TRACE}-${SPAN}-01-00`],
    ["short trace id", `00-${TRACE.slice(1)}-${SPAN}-011`],
    ["wrong separators", `00_${TRACE}_${SPAN}_01`],
    ["non-hex flags", `00-${TRACE}-${SPAN}-0g`],
    ["surrounding space", ` 00-${TRACE}-${SPAN}-0`],
    ["huge", "0".repeat(100_000)],
  ])("refuses %s", (_why, value) => {
    expect(parseTraceparent(value)).toBeUndefined();
  });
});

describe("checkTracestate", () => {
  it("keeps a well-formed list and refuses malformed or oversize ones", () => {
    expect(checkTracestate("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")).toBe(
      "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
    );
    expect(checkTracestate("Bad Key=1")).toBeUndefined();
    expect(checkTracestate("k=v\n")).toBeUndefined();
    expect(checkTracestate(`k=${"v".repeat(600)}`)).toBeUndefined();
    expect(checkTracestate(Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(","))).toBeUndefined();
    expect(checkTracestate(7)).toBeUndefined();
  });
});

describe("hashAttribute", () => {
  it("is stable, short, and never the input", () => {
    const cid = "c_9f8e7d6c5b4a39281706";
    const h = hashAttribute("cid", cid);
    expect(h).toMatch(/^[0-9a-f]{16}$/);
    expect(hashAttribute("cid", cid)).toBe(h);
    expect(h).not.toContain(cid);
    // domain-separated: the same value under another kind hashes differently
    expect(hashAttribute("session", cid)).not.toBe(h);
  });
});

describe("parseTraceContext", () => {
  it("keeps a well-formed tracestate and drops a malformed one without losing the parent", () => {
    const tp = `00-${TRACE}-${SPAN}-01`;
    expect(parseTraceContext(tp, "congo=t61rcWkgMzE")?.traceState?.get("congo")).toBe("t61rcWkgMzE");
    const dropped = parseTraceContext(tp, "Bad Key=1");
    expect(dropped?.spanId).toBe(SPAN);
    expect(dropped?.traceState).toBeUndefined();
    expect(parseTraceContext("nope", "congo=x")).toBeUndefined();
  });
});
