import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BaseAgent } from "../src/agent/base-agent.js";
import { defineOperation } from "../src/agent/operation.js";
import { parseRpcMessage } from "../src/rpc/jsonrpc.js";
import { type LoopbackMessage, LoopbackNetwork } from "../src/rpc/loopback.js";
import type { RpcMessageMeta } from "../src/rpc/transport.js";

const MATH = "math@fame.fabric";
const drain = () => new Promise<void>((resolve) => setImmediate(resolve));

class FuzzAgent extends BaseAgent {
  async add({ x, y }: { x: number; y: number }): Promise<number> {
    return x + y;
  }
  async *count({ n }: { n: number }): AsyncGenerator<number> {
    for (let i = 0; i < Math.min(Number(n) || 0, 50); i++) yield i;
  }
}
defineOperation(FuzzAgent, "add");
defineOperation(FuzzAgent, "count", { streaming: true });

async function setup() {
  const net = new LoopbackNetwork();
  const caller = net.createEndpoint("caller@a");
  const server = net.createEndpoint("server@b");
  await server.serveAgent(MATH, new FuzzAgent());
  const replies: LoopbackMessage[] = [];
  net.tap((m) => {
    if (m.from === "server@b") replies.push(m);
  });
  return { net, caller, server, replies };
}

const anyValue = fc.anything({
  maxDepth: 4,
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withSparseArray: true,
  withTypedArray: true,
});

const idArb = fc.oneof(fc.string({ maxLength: 140 }), fc.integer(), fc.double(), fc.constant(null), anyValue);

/** Payloads shaped like JSON-RPC messages, with every field possibly wrong. */
const rpcLike = fc.record(
  {
    jsonrpc: fc.oneof(fc.constant("2.0"), fc.constant("1.0"), anyValue),
    id: idArb,
    method: fc.oneof(
      fc.constantFrom(
        "add",
        "count",
        "constructor",
        "__proto__",
        "toString",
        "rpc.discover",
        "m".repeat(129),
      ),
      fc.string({ maxLength: 200 }),
      anyValue,
    ),
    params: fc.oneof(
      fc.record({ x: fc.integer(), y: fc.integer() }),
      fc.record({ n: fc.integer() }),
      anyValue,
    ),
    stream_window: fc.oneof(fc.integer({ min: -2, max: 2000 }), anyValue),
    stream: fc.oneof(fc.constantFrom("item", "end", "credit", "cancel", "bogus"), anyValue),
    seq: fc.oneof(fc.integer({ min: -1, max: 5 }), anyValue),
    n: fc.oneof(fc.integer({ min: -1, max: 2000 }), anyValue),
    result: anyValue,
    error: fc.oneof(
      fc.record({
        code: fc.integer(),
        message: fc.string(),
        data: fc.oneof(anyValue, fc.record({ fame_code: anyValue })),
      }),
      anyValue,
    ),
  },
  { requiredKeys: [] },
);

const metaArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.record(
    {
      corrId: fc.oneof(fc.string({ minLength: 1, maxLength: 20 }), anyValue),
      from: fc.oneof(fc.constantFrom("caller@a", "fuzzer@z"), anyValue),
      to: fc.oneof(fc.constant(MATH), anyValue),
      meta: fc.oneof(fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }), anyValue),
    },
    { requiredKeys: ["corrId"] },
  ),
  anyValue,
);

describe("hostile input", () => {
  it("never throws on arbitrary payloads and metadata, and keeps working", async () => {
    const { caller, server, replies } = await setup();
    await fc.assert(
      fc.asyncProperty(fc.oneof(anyValue, rpcLike), metaArb, async (payload, meta) => {
        expect(() => server.handleIncoming(payload, meta as RpcMessageMeta)).not.toThrow();
        expect(() => caller.handleIncoming(payload, meta as RpcMessageMeta)).not.toThrow();
        await drain();
      }),
      { numRuns: 300 },
    );
    expect(replies.length).toBeGreaterThan(0);
    // Whatever the server said back is a well-formed reply, never a request.
    for (const r of replies) {
      const parsed = parseRpcMessage(r.payload);
      expect(parsed.ok).toBe(true);
      if (parsed.ok) expect(["result", "error", "item", "end"]).toContain(parsed.message.kind);
    }
    expect(await caller.client.call(MATH, "add", { x: 2, y: 3 })).toBe(5);
  });

  it("never throws when replies for a pending call are garbage", async () => {
    const { net, caller } = await setup();
    net.intercept((m) => m.to === MATH); // the real callee never answers
    await fc.assert(
      fc.asyncProperty(rpcLike, async (payload) => {
        let corrId = "";
        const stop = net.tap((m) => {
          corrId = m.corrId;
        });
        const call = caller.client.call(MATH, "add", { x: 1, y: 1 }).then(
          () => "settled",
          () => "settled",
        );
        stop();
        const id = (payload as { id?: unknown }).id === undefined ? corrId : (payload as { id?: unknown }).id;
        expect(() => caller.handleIncoming({ ...payload, id }, { corrId, from: MATH })).not.toThrow();
        await drain();
        caller.failCall(corrId, "timeout", "fuzz case over");
        expect(await call).toBe("settled");
        // An open stream may remain if the garbage happened to be a valid item; end it.
        caller.failAll("timeout", "fuzz case over");
      }),
      { numRuns: 300 },
    );
  });
});
