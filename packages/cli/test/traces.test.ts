import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { parseListen } from "../src/commands/traces.js";
import { EXIT } from "../src/exit-codes.js";
import { OtlpShapeError, renderTrace, spansOf, TraceAssembler, type TraceSpan } from "../src/otlp-traces.js";
import { fakeIo } from "./fake-io.js";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const str = (key: string, value: string) => ({ key, value: { stringValue: value } });

/** an export as the SDK's OTLP/HTTP JSON exporter sends it: client → sentinel → replica */
function exportOf(trace = TRACE) {
  const span = (
    spanId: string,
    parentSpanId: string,
    name: string,
    start: number,
    end: number,
    extra = {},
  ) => ({
    traceId: trace,
    spanId,
    parentSpanId,
    name,
    kind: 1,
    startTimeUnixNano: String(1_700_000_000_000_000_000n + BigInt(start)),
    endTimeUnixNano: String(1_700_000_000_000_000_000n + BigInt(end)),
    ...extra,
  });
  const resource = (service: string, spans: unknown[]) => ({
    resource: { attributes: [str("service.name", service)] },
    scopeSpans: [{ scope: { name: "@fame/sdk" }, spans }],
  });
  return {
    resourceSpans: [
      resource("math-client", [
        span("00f067aa0ba902b7", "", "fame.call", 0, 2_400_000, {
          attributes: [str("rpc.method", "add"), str("secret", "x")],
        }),
      ]),
      resource("fame-sentinel", [
        span("1111111111111111", "00f067aa0ba902b7", "fame.route", 300_000, 600_000),
      ]),
      resource("math-agent-replica2", [
        span("2222222222222222", "1111111111111111", "fame.serve", 900_000, 1_300_000, {
          status: { code: 2, message: "boom" },
        }),
      ]),
    ],
  };
}

describe("OTLP exports read into spans", () => {
  it("reads ids, times, services, errors and the attributes worth showing", () => {
    const spans = spansOf(exportOf());
    expect(spans.map((s) => [s.service, s.name, s.parentSpanId])).toEqual([
      ["math-client", "fame.call", ""],
      ["fame-sentinel", "fame.route", "00f067aa0ba902b7"],
      ["math-agent-replica2", "fame.serve", "1111111111111111"],
    ]);
    expect(spans[0]!.attributes).toEqual({ "rpc.method": "add" });
    expect(spans[2]!.error).toBe("boom");
    expect(spans[0]!.endNs - spans[0]!.startNs).toBe(2_400_000n);
  });

  it("takes base64 ids (the protobuf JSON mapping) as well as hex", () => {
    const body = exportOf();
    const s = body.resourceSpans[0]!.scopeSpans[0]!.spans[0] as { traceId: string; spanId: string };
    s.traceId = Buffer.from(TRACE, "hex").toString("base64");
    s.spanId = Buffer.from("00f067aa0ba902b7", "hex").toString("base64");
    expect(spansOf(body)[0]).toMatchObject({ traceId: TRACE, spanId: "00f067aa0ba902b7" });
  });

  it("refuses malformed exports as a whole, naming what is wrong", () => {
    for (const bad of [
      null,
      [],
      { resourceSpans: {} },
      { resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: "zz", spanId: "00f067aa0ba902b7" }] }] }] },
      {
        resourceSpans: [
          {
            scopeSpans: [
              { spans: [{ traceId: TRACE, spanId: "00f067aa0ba902b7", startTimeUnixNano: "-1" }] },
            ],
          },
        ],
      },
    ]) {
      expect(() => spansOf(bad)).toThrow(OtlpShapeError);
    }
  });
});

describe("a trace drawn as a tree", () => {
  it("puts each span under its parent, with its service, duration and errors", () => {
    const lines = renderTrace(spansOf(exportOf()));
    expect(lines[0]).toBe(`trace ${TRACE} · 3 spans · 2.40 ms · 1 error`);
    expect(lines[1]).toMatch(/^ {2}fame\.call\s+math-client\s+2\.40 ms {2}rpc\.method=add$/);
    expect(lines[2]).toMatch(/^ {4}fame\.route\s+fame-sentinel\s+0\.30 ms$/);
    expect(lines[3]).toMatch(/^ {6}fame\.serve\s+math-agent-replica2\s+0\.40 ms {2}ERROR boom$/);
  });

  it("starts a tree of its own for a span whose parent did not come, and survives a cycle", () => {
    const spans = spansOf(exportOf()).slice(1);
    expect(renderTrace(spans)[1]).toMatch(/^ {2}fame\.route.*\(parent \w{8}… not seen\)$/);
    const cyclic: TraceSpan[] = spans.map((s) => ({ ...s }));
    cyclic[0]!.parentSpanId = cyclic[1]!.spanId; // each the other's parent
    // both drawn, marked (audit round 9: a span naming itself as its parent was counted, never drawn)
    const lines = renderTrace(cyclic);
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/\(its parents form a cycle\)/);
    const self: TraceSpan[] = [{ ...spans[0]!, parentSpanId: spans[0]!.spanId }];
    expect(renderTrace(self)).toHaveLength(2);
  });

  it("draws both spans of one span id, marked, and keeps node text on its own row", () => {
    // audit round 9: an exporter that saw the traceparent reused the replica's span id, started
    // 1 ns earlier, and its span took the real one's place; newlines drew rows of its making
    const spans = spansOf(exportOf());
    const serve = spans[2]!;
    const forged: TraceSpan = {
      ...serve,
      startNs: serve.startNs - 1n,
      service: "fame-sentinel",
      name: "fame.serve add\ntrace 0af7 · 1 span\n  everything fine",
      error: "replica leaked the key",
    };
    const lines = renderTrace([...spans, forged]);
    expect(lines).toHaveLength(5);
    expect(lines.filter((l) => l.includes("one of them is forged"))).toHaveLength(2);
    expect(lines.some((l) => l.includes("math-agent-replica2"))).toBe(true);
    expect(lines.join("\n")).not.toMatch(/^trace 0af7/m);
    expect(lines.find((l) => l.includes("everything fine"))).toMatch(/\\ntrace 0af7/);
  });
});

describe("trace assembly", () => {
  it("hands a trace on once no span of it came for the quiet time", () => {
    const done: number[] = [];
    const a = new TraceAssembler((spans) => done.push(spans.length), { quietMs: 1000 });
    const spans = spansOf(exportOf());
    a.add(spans.slice(0, 2), 0);
    a.flush(900);
    a.add(spans.slice(2), 950);
    a.flush(1900);
    expect(done).toEqual([]);
    a.flush(1950);
    expect(done).toEqual([3]);
    expect(a.waiting).toBe(0);
  });

  it("marks a later block of a trace already drawn (a call slower than --quiet) as its continuation", () => {
    const blocks: string[][] = [];
    const a = new TraceAssembler(
      (spans, dropped, continued) => blocks.push(renderTrace(spans, dropped, continued)),
      {
        quietMs: 1000,
      },
    );
    const spans = spansOf(exportOf());
    // the route and serve spans end first; the client's call span comes after the quiet time
    a.add(spans.slice(1), 0);
    a.flush(1000);
    a.add(spans.slice(0, 1), 3000);
    a.flush(4000);
    expect(blocks).toHaveLength(2);
    expect(blocks[0]![0]).toMatch(new RegExp(`^trace ${TRACE} · 2 spans`));
    expect(blocks[0]![1]).toMatch(/not seen\)$/);
    expect(blocks[1]![0]).toMatch(new RegExp(`^trace ${TRACE} \\(continued\\) · 1 span `));
  });

  it("keeps at most so many traces and spans waiting", () => {
    const done: [number, number][] = [];
    const a = new TraceAssembler((spans, dropped) => done.push([spans.length, dropped]), {
      maxTraces: 2,
      maxSpansPerTrace: 2,
    });
    a.add(spansOf(exportOf("a".repeat(32))), 0);
    a.add(spansOf(exportOf("b".repeat(32))), 0);
    a.add(spansOf(exportOf("c".repeat(32))), 0);
    expect(done).toEqual([[2, 1]]); // the oldest went out early, one of its spans not kept
    a.flush(0, true);
    expect(done).toHaveLength(3);
    expect(a.spansReceived).toBe(9);
  });
});

describe("trace assembly bounds against a hostile exporter", () => {
  it("drops attribute keys longer than any real one", () => {
    const body = exportOf();
    const span = body.resourceSpans[0]!.scopeSpans[0]!.spans[0] as { attributes?: unknown[] };
    span.attributes = [str(`fame.${"k".repeat(300_000)}`, "v"), str("fame.ok", "1")];
    expect(spansOf(body)[0]!.attributes).toEqual({ "fame.ok": "1" });
  });

  it("hands traces on early once what waits passes its byte budget", () => {
    const done: number[] = [];
    const a = new TraceAssembler((spans) => done.push(spans.length), { maxBytes: 20_000 });
    for (let i = 0; i < 100; i++) a.add(spansOf(exportOf(i.toString(16).padStart(32, "0"))), 0);
    expect(a.waitingBytes).toBeLessThanOrEqual(20_000);
    expect(done.length).toBeGreaterThan(50); // ~1.3 KB a trace: the budget holds a dozen or so
    expect(done.length + a.waiting).toBe(100);
  });

  it("hands on a trace that never goes quiet once it waited long enough", () => {
    const done: number[] = [];
    const a = new TraceAssembler((spans) => done.push(spans.length), { quietMs: 1000, maxWaitMs: 5000 });
    for (let t = 0; t <= 6000; t += 500) {
      a.add(spansOf(exportOf()).slice(0, 1), t);
      a.flush(t);
    }
    expect(done).toEqual([11]);
  });
});

describe("fame traces", () => {
  it("parses where to listen", () => {
    expect(parseListen("4318")).toEqual({ host: "127.0.0.1", port: 4318 });
    expect(parseListen("0.0.0.0:9")).toEqual({ host: "0.0.0.0", port: 9 });
    expect(parseListen("[::1]:4318")).toEqual({ host: "::1", port: 4318 });
    expect(() => parseListen("nope")).toThrow(/--listen/);
    expect(() => parseListen("1:99999")).toThrow(/--listen/);
  });

  it("receives exports over HTTP and draws each trace when it is quiet, until Ctrl-C", async () => {
    const f = fakeIo();
    const err = new Watched();
    const out = new Watched();
    const { runTraces } = await import("../src/commands/traces.js");
    const running = runTraces(
      { ...f.io, out: out.write, err: err.write },
      { listen: "127.0.0.1:0", quiet: "50" },
    );
    const url = (await err.when(/listening on (\S+);/))[1]!;
    const post = (body: Buffer | string, headers: Record<string, string>) =>
      fetch(`${url}/v1/traces`, { method: "POST", body, headers });
    const json = { "content-type": "application/json" };
    expect((await post(JSON.stringify(exportOf()), json)).status).toBe(200);
    const gzipped = gzipSync(JSON.stringify(exportOf("e".repeat(32))));
    expect((await post(gzipped, { ...json, "content-encoding": "gzip" })).status).toBe(200);
    expect((await post("{nope", json)).status).toBe(400);
    expect((await post("x", { "content-type": "application/x-protobuf" })).status).toBe(415);
    await out.when(/^trace e{32}/m);
    await out.when(new RegExp(`^trace ${TRACE} · 3 spans`, "m"));
    expect(out.text).toMatch(/fame\.serve\s+math-agent-replica2/);
    f.interrupt();
    await running;
    expect(err.text).toMatch(/2 traces, 6 spans, 2 exports refused/);
  });

  it("says so when its port is taken (exit 2)", async () => {
    const first = fakeIo();
    const err = new Watched();
    const { runCli } = await import("../src/program.js");
    const done = runCli(["traces", "--listen", "127.0.0.1:0"], { ...first.io, err: err.write });
    const url = (await err.when(/listening on (\S+);/))[1]!;
    const second = await fakeIo().run("traces", "--listen", url.replace("http://", ""));
    expect(second.code).toBe(EXIT.usage);
    expect(second.err).toMatch(/is in use/);
    first.interrupt();
    expect(await done).toBe(EXIT.ok);
  });
});

/** text written so far, and a promise for the first match of a pattern (rejected after 5 s) */
class Watched {
  text = "";
  private waiters: { re: RegExp; resolve: (m: RegExpExecArray) => void }[] = [];
  readonly write = (t: string): void => {
    this.text += t;
    this.waiters = this.waiters.filter((w) => {
      const m = w.re.exec(this.text);
      if (m) w.resolve(m);
      return !m;
    });
  };
  when(re: RegExp): Promise<RegExpExecArray> {
    const m = re.exec(this.text);
    if (m) return Promise.resolve(m);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`never wrote ${re}: ${this.text}`)), 5000);
      const found = (x: RegExpExecArray): void => {
        clearTimeout(timer);
        resolve(x);
      };
      this.waiters.push({ re, resolve: found });
    });
  }
}
