import { describe, expect, it } from "vitest";
import { MAX_SSE_EVENT_CHARS, SseParser } from "../src/dashboard/browser/sse-parser.js";

describe("the page's SSE parser", () => {
  it("completes events across arbitrary chunk boundaries", () => {
    const text = 'event: hello\ndata: {"a":1}\n\nevent: tick\ndata: {"b":2}\n\n';
    for (let cut = 1; cut < text.length; cut++) {
      const p = new SseParser();
      const got = [...p.push(text.slice(0, cut)), ...p.push(text.slice(cut))];
      expect(got).toEqual([
        { event: "hello", data: '{"a":1}' },
        { event: "tick", data: '{"b":2}' },
      ]);
    }
  });

  it("handles CRLF, a CR split from its LF, comments, multi-line data and unnamed events", () => {
    const p = new SseParser();
    expect(p.push(": keep-alive\r\ndata: one\r")).toEqual([]);
    expect(p.push("\ndata: two\r\n\r\ndata:x\n\n")).toEqual([
      { event: "message", data: "one\ntwo" },
      { event: "message", data: "x" },
    ]);
  });

  it("refuses an event that grows without end", () => {
    const p = new SseParser();
    expect(() => p.push(`data: ${"x".repeat(MAX_SSE_EVENT_CHARS)}`)).toThrow(RangeError);
  });
});
