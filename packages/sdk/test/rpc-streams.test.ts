import { afterEach, describe, expect, it, vi } from "vitest";
import { BaseAgent } from "../src/agent/base-agent.js";
import { defineOperation } from "../src/agent/operation.js";
import { Agent } from "../src/agent/remote-proxy.js";
import type { RpcEndpointOptions } from "../src/rpc/endpoint.js";
import { type LoopbackMessage, LoopbackNetwork } from "../src/rpc/loopback.js";
import { RpcError, RpcErrorCode } from "../src/rpc/rpc-error.js";
import { RpcStream } from "../src/rpc/rpc-stream.js";
import type { JsonValue } from "../src/rpc/transport.js";

const MATH = "math@fame.fabric";

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** Let every queued delivery run: loopback delivery is microtask-based, so one macrotask turn drains it. */
const drain = () => new Promise<void>((resolve) => setImmediate(resolve));

class StreamAgent extends BaseAgent {
  pulls = 0;
  readonly finalized = gate();
  readonly hold = gate();
  async *fib({ n }: { n: number }): AsyncGenerator<number> {
    let a = 0;
    let b = 1;
    try {
      for (let i = 0; i < n; i++) {
        this.pulls++;
        yield a;
        [a, b] = [b, a + b];
      }
    } finally {
      this.finalized.open();
    }
  }
  async *broken(): AsyncGenerator<number> {
    yield 1;
    yield 2;
    throw new Error("sensor unplugged");
  }
  async *held(): AsyncGenerator<number> {
    yield 1;
    await this.hold.promise;
    yield 2;
  }
  async notAStream(): Promise<number> {
    return 1;
  }
  async *badItem(): AsyncGenerator<unknown> {
    yield () => 1;
  }
}
defineOperation(StreamAgent, "fib", { name: "fib_stream", streaming: true });
defineOperation(StreamAgent, "broken", { streaming: true });
defineOperation(StreamAgent, "held", { streaming: true });
defineOperation(StreamAgent, "notAStream", { streaming: true });
defineOperation(StreamAgent, "badItem", { streaming: true });

interface StreamApi {
  fib_stream(p: { n: number }): AsyncIterable<number>;
  broken(): AsyncIterable<number>;
  held(): AsyncIterable<number>;
  notAStream(): AsyncIterable<number>;
  badItem(): AsyncIterable<number>;
}

async function setup(callerOptions: RpcEndpointOptions = {}) {
  const net = new LoopbackNetwork();
  const caller = net.createEndpoint("caller@node-a", callerOptions);
  const server = net.createEndpoint("server@node-b");
  const agent = new StreamAgent();
  await server.serveAgent(MATH, agent);
  const sent: LoopbackMessage[] = [];
  net.tap((m) => sent.push(m));
  const math = Agent.remoteByAddress<StreamApi>(MATH, { endpoint: caller });
  return { net, caller, server, agent, sent, math };
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of it) out.push(v);
  return out;
}

function streamKind(m: LoopbackMessage): JsonValue | undefined {
  const p = m.payload;
  return typeof p === "object" && p !== null && !Array.isArray(p) ? p["stream"] : undefined;
}

afterEach(() => {
  vi.useRealTimers();
});

describe("streaming calls", () => {
  it("streams fib_stream(10)", async () => {
    const { math, caller } = await setup();
    const stream = await math.fib_stream({ n: 10 });
    expect(stream).toBeInstanceOf(RpcStream);
    expect(await collect(stream)).toEqual([0, 1, 1, 2, 3, 5, 8, 13, 21, 34]);
    expect(caller.client.pendingCount).toBe(0);
  });

  it("handles an empty stream", async () => {
    const { math } = await setup();
    expect(await collect(await math.fib_stream({ n: 0 }))).toEqual([]);
  });

  it("never lets the callee run more than the window ahead of the consumer", async () => {
    const window = 4;
    const { math, agent, sent } = await setup({ streamWindow: window });
    const stream = await math.fib_stream({ n: 1000 });
    let consumed = 0;
    let maxAhead = 0;
    let last = 0;
    for await (const v of stream) {
      consumed++;
      last = v;
      maxAhead = Math.max(maxAhead, agent.pulls - consumed);
      expect(agent.pulls).toBeLessThanOrEqual(consumed + window);
      if (consumed % 97 === 0) {
        // Give the producer every chance to run ahead, then check it stopped at the window.
        await drain();
        expect(agent.pulls - consumed).toBeLessThanOrEqual(window);
        expect(agent.pulls).toBeGreaterThan(consumed);
      }
    }
    expect(consumed).toBe(1000);
    expect(maxAhead).toBeLessThanOrEqual(window);
    expect(maxAhead).toBeGreaterThan(0);
    let a = 0;
    let b = 1;
    for (let i = 0; i < 999; i++) [a, b] = [b, a + b];
    expect(last).toBe(a);
    const credits = sent.filter((m) => streamKind(m) === "credit");
    expect(credits.length).toBeGreaterThanOrEqual(1000 / window);
    expect(credits.every((m) => (m.payload as { n: number }).n === window / 2)).toBe(true);
    const request = sent.find((m) => m.to === MATH && streamKind(m) === undefined);
    expect(request?.payload).toMatchObject({ method: "fib_stream", stream_window: window });
  });

  it("cancels the callee's generator when the consumer breaks", async () => {
    const { math, agent, sent, server, caller } = await setup({ streamWindow: 8 });
    const seen: number[] = [];
    for await (const v of await math.fib_stream({ n: 1_000_000 })) {
      seen.push(v);
      if (seen.length === 3) break;
    }
    expect(seen).toEqual([0, 1, 1]);
    await agent.finalized.promise;
    expect(agent.pulls).toBeLessThanOrEqual(3 + 8);
    expect(sent.filter((m) => streamKind(m) === "cancel")).toHaveLength(1);
    expect(caller.client.pendingCount).toBe(0);
    // the callee closes the call with a final answer, so no sentinel holds it as unanswered
    await drain();
    const finals = sent.filter(
      (m) =>
        (m.payload as { error?: { data?: { fame_code?: string } } }).error?.data?.fame_code === "cancelled",
    );
    expect(finals).toHaveLength(1);
    // The stream's in-flight slot is released: a new call works and the generator is done.
    await drain();
    expect(server.servedAddresses).toEqual([MATH]);
    expect(await collect(await math.fib_stream({ n: 3 }))).toEqual([0, 1, 1]);
  });

  it("delivers items before a mid-stream error, then raises it", async () => {
    const { math } = await setup();
    const got: number[] = [];
    let caught: unknown;
    try {
      for await (const v of await math.broken()) got.push(v);
    } catch (err) {
      caught = err;
    }
    expect(got).toEqual([1, 2]);
    expect(caught).toBeInstanceOf(RpcError);
    expect((caught as RpcError).code).toBe(RpcErrorCode.INTERNAL_ERROR);
    expect((caught as RpcError).message).toBe("internal error in operation broken (logged by the agent)");
  });

  it("reports a streaming operation that returns no iterable, and non-JSON items", async () => {
    const { math } = await setup();
    await expect(math.notAStream()).rejects.toMatchObject({ code: RpcErrorCode.INTERNAL_ERROR });
    // The error comes before any item, so the call itself fails rather than yielding a stream.
    await expect(math.badItem()).rejects.toMatchObject({
      code: RpcErrorCode.INTERNAL_ERROR,
      message: expect.stringContaining("not JSON-serializable"),
    });
  });

  it("terminates an open stream when the transport fails the call", async () => {
    const { math, caller, sent, agent } = await setup();
    const stream = await math.held();
    const it = stream[Symbol.asyncIterator]();
    expect(await it.next()).toEqual({ value: 1, done: false });
    const request = sent.find((m) => m.to === MATH && streamKind(m) === undefined);
    expect(caller.failCall(request?.corrId ?? "", "replica_unavailable", "replica went away")).toBe(true);
    await expect(it.next()).rejects.toMatchObject({ fameCode: "replica_unavailable" });
    expect(await it.next()).toEqual({ value: undefined, done: true });
    agent.hold.open();
  });

  it("cancels a started stream when the caller's signal aborts", async () => {
    const { caller, sent, agent } = await setup();
    const abort = new AbortController();
    const stream = await caller.client.call(MATH, "held", {}, { signal: abort.signal });
    if (!(stream instanceof RpcStream)) throw new Error("expected a stream");
    const it = stream[Symbol.asyncIterator]();
    expect(await it.next()).toEqual({ value: 1, done: false });
    const next = it.next();
    abort.abort();
    await expect(next).rejects.toMatchObject({ fameCode: "cancelled" });
    expect(await it.next()).toEqual({ value: undefined, done: true });
    await drain();
    expect(sent.filter((m) => streamKind(m) === "cancel")).toHaveLength(1);
    expect(caller.client.pendingCount).toBe(0);
    agent.hold.open();
  });

  it("times out a stream that goes silent while the consumer waits", async () => {
    vi.useFakeTimers();
    const { math, sent, agent } = await setup({ defaultTimeoutMs: 500 });
    const it = (await math.held())[Symbol.asyncIterator]();
    expect(await it.next()).toEqual({ value: 1, done: false });
    const next = it.next();
    const outcome = next.catch((err: unknown) => err);
    await vi.advanceTimersByTimeAsync(500);
    expect(await outcome).toMatchObject({ fameCode: "timeout" });
    expect(sent.filter((m) => streamKind(m) === "cancel")).toHaveLength(1);
    agent.hold.open();
  });
});

describe("hostile stream consumers", () => {
  it("gives up on a caller that never grants credit", async () => {
    vi.useFakeTimers();
    const { net, agent } = await setup();
    const got: LoopbackMessage[] = [];
    const errored = new Promise<void>((resolve) =>
      net.tap((m) => {
        if (m.to !== "raw@node-z") return;
        got.push(m);
        if (streamKind(m) === undefined) resolve();
      }),
    );
    net.inject({
      from: "raw@node-z",
      to: MATH,
      corrId: "raw-1",
      payload: { jsonrpc: "2.0", id: "raw-1", method: "fib_stream", params: { n: 100 }, stream_window: 2 },
    });
    await vi.advanceTimersByTimeAsync(60_000);
    await errored;
    expect(got.map(streamKind)).toEqual(["item", "item", undefined]);
    expect(got[2]?.payload).toMatchObject({ error: { data: { fame_code: "timeout" } } });
    await agent.finalized.promise;
    expect(agent.pulls).toBe(2);
  });
});

describe("hostile stream producers", () => {
  /** A fake callee at FAKE that answers each request with the given payloads. */
  function fakeCallee(net: LoopbackNetwork, reply: (id: JsonValue) => JsonValue[]) {
    const FAKE = "fake@node-x";
    net.intercept((m) => {
      if (m.to !== FAKE) return false;
      const p = m.payload as { id?: JsonValue; method?: string };
      if (p.method !== undefined) {
        for (const payload of reply(p.id ?? null))
          net.inject({ from: FAKE, to: m.from, corrId: m.corrId, payload });
      }
      return true;
    });
    return FAKE;
  }

  it("cuts off a callee that sends more items than its credit", async () => {
    const { net, caller, sent } = await setup({ streamWindow: 2 });
    const fake = fakeCallee(net, (id) =>
      [0, 1, 2, 3].map((seq) => ({ jsonrpc: "2.0", id, stream: "item", seq, result: seq })),
    );
    const stream = (await caller.client.call(fake, "flood")) as RpcStream;
    await expect(collect(stream)).rejects.toMatchObject({ fameCode: "bad_envelope" });
    expect(sent.filter((m) => m.to === fake && streamKind(m) === "cancel")).toHaveLength(1);
    expect(caller.client.pendingCount).toBe(0);
  });

  it("rejects gaps in the sequence and a wrong end count", async () => {
    const { net, caller } = await setup();
    const fake = fakeCallee(net, (id) => [
      { jsonrpc: "2.0", id, stream: "item", seq: 0, result: "a" },
      { jsonrpc: "2.0", id, stream: "item", seq: 2, result: "c" },
    ]);
    const stream = (await caller.client.call(fake, "gappy")) as RpcStream;
    await expect(collect(stream)).rejects.toMatchObject({ fameCode: "bad_envelope" });

    const net2 = new LoopbackNetwork();
    const caller2 = net2.createEndpoint("c@n");
    const fake2 = fakeCallee(net2, (id): JsonValue[] => [
      { jsonrpc: "2.0", id, stream: "item", seq: 0, result: "a" },
      { jsonrpc: "2.0", id, stream: "item", seq: 0, result: "dup" },
      { jsonrpc: "2.0", id, stream: "end", seq: 5 },
    ]);
    const s2 = (await caller2.client.call(fake2, "short")) as RpcStream;
    const it = s2[Symbol.asyncIterator]();
    expect(await it.next()).toEqual({ value: "a", done: false });
    await expect(it.next()).rejects.toMatchObject({ fameCode: "bad_envelope" });
  });

  it("fails a pending call on a malformed reply instead of waiting for the timeout", async () => {
    const { net, caller } = await setup();
    const fake = fakeCallee(net, (id) => [{ jsonrpc: "2.0", id, result: 1, sneaky: true }]);
    await expect(caller.client.call(fake, "x")).rejects.toMatchObject({ fameCode: "bad_envelope" });
  });
});
