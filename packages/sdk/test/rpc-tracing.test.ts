import {
  type Context,
  renderPrometheus,
  type SpanContext,
  startTracing,
  type Tracer,
  trace,
} from "@fame/telemetry";
import { describe, expect, it } from "vitest";
import { BaseAgent } from "../src/agent/base-agent.js";
import { defineOperation } from "../src/agent/operation.js";
import { parseRpcMessage } from "../src/rpc/jsonrpc.js";
import { type LoopbackMessage, LoopbackNetwork } from "../src/rpc/loopback.js";
import { RpcError } from "../src/rpc/rpc-error.js";
import { ServeTelemetry } from "../src/rpc/serve-telemetry.js";

const MATH = "math@fame.fabric";

class MathAgent extends BaseAgent {
  async add({ x, y }: { x: number; y: number }): Promise<number> {
    return x + y;
  }
  async refuse(): Promise<never> {
    throw new RpcError(-32010, "quota exceeded", "quota");
  }
}
defineOperation(MathAgent, "add");
defineOperation(MathAgent, "refuse");

/** the real tracer, noting the parent each span is started under */
async function watchedTracer(): Promise<{ tracer: Tracer; parents: (SpanContext | undefined)[] }> {
  const real = (await startTracing({ serviceName: "t", tracerName: "t", env: {}, withoutExporter: true }))!
    .tracer;
  const parents: (SpanContext | undefined)[] = [];
  const tracer: Tracer = {
    startSpan(name, options, ctx?: Context) {
      parents.push(ctx === undefined ? undefined : trace.getSpanContext(ctx));
      return real.startSpan(name, options, ctx);
    },
    startActiveSpan: real.startActiveSpan.bind(real) as Tracer["startActiveSpan"],
  };
  return { tracer, parents };
}

async function setup(options: { traced: boolean; serverTelemetry?: ServeTelemetry }) {
  const net = new LoopbackNetwork();
  const traced: { traceId: string; method: string }[] = [];
  const client = await watchedTracer();
  const caller = net.createEndpoint("caller@node-a", {
    ...(options.traced ? { tracer: client.tracer, onTraced: (t) => traced.push(t) } : {}),
  });
  const server = net.createEndpoint("server@node-b", { telemetry: options.serverTelemetry });
  await server.serveAgent(MATH, new MathAgent());
  const sent: LoopbackMessage[] = [];
  net.tap((m) => sent.push(m));
  return { net, caller, sent, traced, client };
}

function requestOf(m: LoopbackMessage | undefined): Record<string, unknown> {
  return m?.payload as Record<string, unknown>;
}

describe("client calls without a tracer", () => {
  it("carry no trace context at all, in the request or in its meta", async () => {
    const { caller, sent, traced } = await setup({ traced: false });
    expect(await caller.client.call(MATH, "add", { x: 1, y: 2 })).toBe(3);
    const req = sent.find((m) => m.to === MATH);
    expect(requestOf(req)).not.toHaveProperty("traceparent");
    expect(requestOf(req)).not.toHaveProperty("tracestate");
    expect(req?.meta).toBeUndefined();
    expect(traced).toEqual([]);
  });
});

describe("traced client calls", () => {
  it("put the span's traceparent in the request and in the hop meta, and report the trace id", async () => {
    const { caller, sent, traced } = await setup({ traced: true });
    expect(await caller.client.call(MATH, "add", { x: 1, y: 2 }, { meta: { "session-id": "s1" } })).toBe(3);
    expect(traced).toHaveLength(1);
    const req = sent.find((m) => m.to === MATH)!;
    const tp = requestOf(req)["traceparent"];
    expect(tp).toMatch(new RegExp(`^00-${traced[0]!.traceId}-[0-9a-f]{16}-01$`));
    expect(req.meta).toEqual({ "session-id": "s1", traceparent: tp });
  });

  it("parent the replica's span on the request's traceparent, and count serve times per operation", async () => {
    const server = await watchedTracer();
    const telemetry = new ServeTelemetry({ tracer: server.tracer, metrics: true });
    const { caller, sent } = await setup({ traced: true, serverTelemetry: telemetry });
    await caller.client.call(MATH, "add", { x: 1, y: 2 });
    await expect(caller.client.call(MATH, "refuse", {})).rejects.toThrow("quota exceeded");
    const tp = String(requestOf(sent.find((m) => m.to === MATH))["traceparent"]);
    expect(server.parents[0]).toMatchObject({
      traceId: tp.slice(3, 35),
      spanId: tp.slice(36, 52),
      isRemote: true,
    });
    const text = renderPrometheus(telemetry.metricFamilies());
    expect(text).toContain('fame_node_serve_seconds_count{operation="add"} 1');
    expect(text).toContain('fame_node_serve_seconds_bucket{operation="add",le="+Inf"} 1');
    expect(text).toContain('fame_node_calls_total{operation="refuse"} 1');
    expect(text).toContain('fame_node_call_errors_total{operation="refuse"} 1');
    expect(text).toContain('fame_node_call_errors_total{operation="add"} 0');
  });

  it("serve a request whose traceparent is malformed, with a parent of its own", async () => {
    const server = await watchedTracer();
    const telemetry = new ServeTelemetry({ tracer: server.tracer });
    const { net } = await setup({ traced: false, serverTelemetry: telemetry });
    const replies: LoopbackMessage[] = [];
    net.tap((m) => {
      if (m.to === "caller@node-a") replies.push(m);
    });
    net.inject({
      from: "caller@node-a",
      to: MATH,
      corrId: "c1",
      payload: {
        jsonrpc: "2.0",
        id: "c1",
        method: "add",
        params: { x: 2, y: 2 },
        traceparent: "x".repeat(55),
      },
    });
    await new Promise<void>((resolve) => {
      const check = () => (replies.length > 0 ? resolve() : setImmediate(check));
      check();
    });
    expect(requestOf(replies[0])).toMatchObject({ result: 4 });
    expect(server.parents).toEqual([undefined]);
  });
});

describe("the request members on the wire", () => {
  it("are refused when not strings of the W3C sizes", () => {
    const base = { jsonrpc: "2.0", id: 1, method: "add" };
    expect(parseRpcMessage({ ...base, traceparent: 7 }).ok).toBe(false);
    expect(parseRpcMessage({ ...base, traceparent: "00-short" }).ok).toBe(false);
    expect(parseRpcMessage({ ...base, tracestate: "k=".padEnd(600, "v") }).ok).toBe(false);
    const ok = parseRpcMessage({
      ...base,
      traceparent: `00-${"a".repeat(32)}-${"b".repeat(16)}-01`,
      tracestate: "k=v",
    });
    expect(ok).toMatchObject({ ok: true, message: { tracestate: "k=v" } });
  });
});
