/**
 * Clear (unsealed) Data coalesced per address: what one turn sends to an address leaves as one
 * signed envelope with a batch list. Real signatures, over the fake sentinel.
 */
import { batchOf, CLEAR_BATCH_META, type Envelope, makeEnvelope } from "@fame/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { BaseAgent } from "../src/agent/base-agent.js";
import { defineOperation } from "../src/agent/operation.js";
import type { Fabric } from "../src/fabric.js";
import { jsonUnitsAtMost } from "../src/node/clear-batch.js";
import type { CallContext } from "../src/rpc/call-context.js";
import type { RpcError } from "../src/rpc/rpc-error.js";
import { connectNode, FakeSentinel } from "./support/fake-sentinel.js";

const MATH = "math@fame.fabric";
const PLAINTEXT = { FAME_DEFAULT_ENCRYPTION_LEVEL: "plaintext" };

class MathAgent extends BaseAgent {
  async add({ x, y }: { x: number; y: number }): Promise<number> {
    return x + y;
  }
  async echo({ s }: { s: string }): Promise<string> {
    return s;
  }
  async *count({ n }: { n: number }): AsyncGenerator<number> {
    for (let i = 0; i < n; i++) yield i;
  }
  async meta(_p: object, ctx: CallContext): Promise<Record<string, string>> {
    return { ...ctx.meta };
  }
  /** a result nested deeper than the protocol carries */
  async deep({ n }: { n: number }): Promise<unknown> {
    let v: unknown = 1;
    for (let i = 0; i < n; i++) v = [v];
    return v;
  }
}
defineOperation(MathAgent, "add");
defineOperation(MathAgent, "echo");
defineOperation(MathAgent, "count", { streaming: true });
defineOperation(MathAgent, "deep");
defineOperation(MathAgent, "meta");

const open: Fabric[] = [];
afterEach(async () => {
  for (const f of open.splice(0)) await f.close();
});

async function node(sentinel: FakeSentinel, name: string, env: Record<string, string> = PLAINTEXT) {
  const f = await connectNode(sentinel, name, env);
  open.push(f);
  return f;
}

async function stack(env: Record<string, string> = PLAINTEXT) {
  const sentinel = new FakeSentinel();
  const replica = await node(sentinel, "replica1", env);
  await new MathAgent().serve(MATH, { endpoint: replica.endpoint });
  const client = await node(sentinel, "client", env);
  return { sentinel, client };
}

const data = (sentinel: FakeSentinel, who: string): Envelope[] => sentinel.sent(who, "Data");
const batches = (envs: Envelope[]) => envs.filter((e) => batchOf(e) !== undefined);

describe("jsonUnitsAtMost", () => {
  it("estimates a small value's JSON length and stops counting past the cap", () => {
    const value = { jsonrpc: "2.0", id: "c-1", method: "add", params: { x: 1, y: 2 } };
    const estimate = jsonUnitsAtMost(value, 1_000);
    const exact = JSON.stringify(value).length;
    expect(estimate).toBeGreaterThan(exact / 2);
    expect(estimate).toBeLessThan(exact * 2);
    expect(jsonUnitsAtMost("x".repeat(100_000), 16_384)).toBeGreaterThan(16_384);
    expect(
      jsonUnitsAtMost(
        Array.from({ length: 1_000_000 }, () => 0),
        16_384,
      ),
    ).toBeGreaterThan(16_384);
    expect(jsonUnitsAtMost([[[[]]]], 100)).toBeLessThan(100);
  });
});

describe("clear Data batches", () => {
  it("calls to a logical address go alone (the sentinel spreads them); their answers come back as one signed batch", async () => {
    const { sentinel, client } = await stack();
    const calls = Array.from({ length: 20 }, (_, i) =>
      client.endpoint.client.call(MATH, "add", { x: i, y: 1 }),
    );
    expect(await Promise.all(calls)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const requests = data(sentinel, "client");
    expect(requests).toHaveLength(20);
    expect(batches(requests)).toHaveLength(0);
    const answers = batches(data(sentinel, "replica1"));
    expect(answers).toHaveLength(1);
    const answer = answers[0]!;
    expect(batchOf(answer)).toHaveLength(20);
    expect(new Set(batchOf(answer)!.map((e) => e.corrId))).toEqual(new Set(requests.map((e) => e.corrId)));
    expect(answer.corrId).toBeUndefined();
    expect(answer.sec?.sig).toBeDefined();
    expect(answer.frame).toMatchObject({ type: "Data", codec: "json" });
  });

  it("a lone answer travels as before: its own envelope, corrId and no list", async () => {
    const { sentinel, client } = await stack();
    expect(await client.endpoint.client.call(MATH, "add", { x: 2, y: 3 })).toBe(5);
    const [answer] = data(sentinel, "replica1");
    expect(batchOf(answer!)).toBeUndefined();
    expect(answer!.corrId).toBe(data(sentinel, "client")[0]!.corrId);
  });

  it("stream items sent in one turn keep their order and their more flags", async () => {
    const { sentinel, client } = await stack();
    const items: number[] = [];
    const stream = (await client.endpoint.client.call(
      MATH,
      "count",
      { n: 100 },
      { streamWindow: 256 },
    )) as AsyncIterable<number>;
    for await (const v of stream) items.push(v);
    expect(items).toEqual(Array.from({ length: 100 }, (_, i) => i));
    const lists = batches(data(sentinel, "replica1")).map((e) => batchOf(e)!);
    expect(lists.length).toBeGreaterThan(0);
    expect(lists.flat().some((e) => e.more === true)).toBe(true);
  });

  it("a batch over the sentinel's frame limit is split, and every call still answers", async () => {
    const sentinel = new FakeSentinel();
    sentinel.maxFrameBytes = 16_384;
    const replica = await node(sentinel, "replica1");
    await new MathAgent().serve(MATH, { endpoint: replica.endpoint });
    const client = await node(sentinel, "client");
    const s = "y".repeat(3_000);
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => client.endpoint.client.call(MATH, "echo", { s })),
    );
    expect(answers).toEqual(Array.from({ length: 8 }, () => s));
    const sizes = batches(data(sentinel, "replica1")).map((e) => batchOf(e)!.length);
    expect(sizes.length).toBeGreaterThan(0);
    expect(Math.max(...sizes)).toBeLessThan(8);
  });

  it("an answer the protocol refuses fails its own call at once; the others of its batch are answered", async () => {
    const { client } = await stack();
    const started = Date.now();
    const results = await Promise.allSettled([
      client.endpoint.client.call(MATH, "add", { x: 1, y: 1 }),
      client.endpoint.client.call(MATH, "deep", { n: 200 }, { timeoutMs: 10_000 }),
      client.endpoint.client.call(MATH, "add", { x: 2, y: 2 }),
    ]);
    expect(results[0]).toEqual({ status: "fulfilled", value: 2 });
    expect(results[2]).toEqual({ status: "fulfilled", value: 4 });
    expect(results[1]!.status).toBe("rejected");
    const err = (results[1] as PromiseRejectedResult).reason as RpcError;
    expect(err.message).toMatch(/could not be sent/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("answers a caller that never offered batches one message per envelope", async () => {
    const sentinel = new FakeSentinel();
    const replica = await node(sentinel, "replica1");
    const agent = new MathAgent();
    await agent.serve(MATH, { endpoint: replica.endpoint });
    // an SDK with batches off does not offer them, like a hand-written client
    const client = await node(sentinel, "client", { ...PLAINTEXT, FAME_CHANNEL_COALESCE: "false" });
    const sums = await Promise.all(
      [1, 2, 3, 4].map((x) => client.endpoint.client.call(MATH, "add", { x, y: 1 })),
    );
    expect(sums).toEqual([2, 3, 4, 5]);
    expect(data(sentinel, "client").every((e) => e.meta?.[CLEAR_BATCH_META] === undefined)).toBe(true);
    expect(batches(data(sentinel, "replica1"))).toHaveLength(0);
    expect(data(sentinel, "replica1")).toHaveLength(4);
  });

  it("offers batches on its clear messages, and the offer never reaches the agent's meta", async () => {
    const { sentinel, client } = await stack();
    expect(await client.endpoint.client.call(MATH, "meta", {})).toEqual({});
    expect(data(sentinel, "client")[0]!.meta?.[CLEAR_BATCH_META]).toBe(true);
  });

  it("FAME_CHANNEL_COALESCE=false sends every clear message alone", async () => {
    const { sentinel, client } = await stack({ ...PLAINTEXT, FAME_CHANNEL_COALESCE: "false" });
    await Promise.all([1, 2, 3].map((x) => client.endpoint.client.call(MATH, "add", { x, y: 1 })));
    expect(batches(data(sentinel, "replica1"))).toHaveLength(0);
    expect(data(sentinel, "replica1")).toHaveLength(3);
  });
});

describe("clear batches of calls to a pool", () => {
  async function poolStack(env: Record<string, string> = PLAINTEXT) {
    const sentinel = new FakeSentinel();
    sentinel.poolBatches = true;
    const replica = await node(sentinel, "replica1", env);
    await new MathAgent().serve(MATH, { endpoint: replica.endpoint });
    const client = await node(sentinel, "client", env);
    return { sentinel, client };
  }
  const adds = (client: Fabric, n: number, from = 0) =>
    Promise.all(
      Array.from({ length: n }, (_, i) => client.endpoint.client.call(MATH, "add", { x: from + i, y: 1 })),
    );
  const sums = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i + 1);

  it("calls of one turn to a logical address leave as one signed batch when the sentinel places batches", async () => {
    const { sentinel, client } = await poolStack();
    expect(await adds(client, 20)).toEqual(sums(20));
    const requests = data(sentinel, "client");
    expect(requests).toHaveLength(1);
    const [request] = requests;
    expect(request!.to).toBe(MATH);
    expect(batchOf(request!)).toHaveLength(20);
    expect(request!.corrId).toBeUndefined();
    expect(request!.sec?.sig).toBeDefined();
    // answered as one batch too
    expect(batches(data(sentinel, "replica1"))).toHaveLength(1);
  });

  it("a sequential call travels alone and is not held for company", async () => {
    const { sentinel, client } = await poolStack();
    for (let i = 0; i < 3; i++)
      expect(await client.endpoint.client.call(MATH, "add", { x: i, y: 1 })).toBe(i + 1);
    expect(batches(data(sentinel, "client"))).toHaveLength(0);
    expect(data(sentinel, "client")).toHaveLength(3);
  });

  it("a call with meta of its own (an affinity session) travels alone, after the batch queued before it", async () => {
    const { sentinel, client } = await poolStack();
    const results = await Promise.all([
      client.endpoint.client.call(MATH, "add", { x: 1, y: 1 }),
      client.endpoint.client.call(MATH, "add", { x: 2, y: 1 }),
      client.endpoint.client.call(MATH, "add", { x: 3, y: 1 }, { meta: { sessionId: "s-1" } }),
    ]);
    expect(results).toEqual([2, 3, 4]);
    const requests = data(sentinel, "client");
    expect(requests.map((e) => batchOf(e)?.length ?? 1)).toEqual([2, 1]);
    expect(requests[1]!.meta?.["sessionId"]).toBe("s-1");
  });

  it("a batch refused for a replica that takes none is resent one call per envelope, and later calls go alone", async () => {
    const { sentinel, client } = await poolStack();
    let refused = 0;
    sentinel.tap = (env) => {
      if (batchOf(env) === undefined || env.to !== MATH) return "relay";
      refused++;
      sentinel.nack(env, "unknown_frame", true);
      return "drop";
    };
    expect(await adds(client, 5)).toEqual(sums(5));
    expect(refused).toBe(1);
    expect(await adds(client, 5, 10)).toEqual(sums(5, 10));
    expect(refused).toBe(1);
    const toPool = data(sentinel, "client").filter((e) => e.to === MATH);
    // the refused batch, then ten lone calls
    expect(toPool.map((e) => batchOf(e)?.length ?? 1)).toEqual([5, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
  });

  it("a nack naming no call of ours (anybody can send one) does not turn batching off", async () => {
    const { sentinel, client } = await poolStack();
    const clientAddress = `rpc@${sentinel.node("client").path}`;
    const forged = makeEnvelope({
      sid: "mallory",
      to: MATH,
      replyTo: clientAddress,
      corrId: "not-a-call-of-the-client",
      frame: { type: "Heartbeat" },
    });
    sentinel.nack(forged, "unknown_frame", true);
    // one call's round trip on the same link: the nack, delivered before its answer, was handled
    expect(await adds(client, 1)).toEqual(sums(1));
    expect(await adds(client, 5)).toEqual(sums(5));
    const toPool = data(sentinel, "client").filter((e) => e.to === MATH);
    expect(toPool.map((e) => batchOf(e)?.length ?? 1)).toEqual([1, 5]);
  });

  it("FAME_POOL_BATCH=false keeps calls to pools one per envelope", async () => {
    const { sentinel, client } = await poolStack({ ...PLAINTEXT, FAME_POOL_BATCH: "false" });
    expect(await adds(client, 6)).toEqual(sums(6));
    expect(batches(data(sentinel, "client"))).toHaveLength(0);
    expect(data(sentinel, "client")).toHaveLength(6);
  });
});
