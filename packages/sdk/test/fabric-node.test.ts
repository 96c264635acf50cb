/**
 * FabricNode, ChannelManager and FabricConnection together, as connectFabric assembles them,
 * over in-memory links to a fake sentinel: real signatures and real channel crypto, no sockets.
 */
import {
  CALLER_SID_META,
  CHANNEL_META_KEY,
  type Envelope,
  encodeEnvelope,
  isSealedData,
  makeEnvelope,
} from "@fame/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { BaseAgent } from "../src/agent/base-agent.js";
import { defineOperation } from "../src/agent/operation.js";
import { Agent } from "../src/agent/remote-proxy.js";
import type { Fabric } from "../src/fabric.js";
import type { CallContext } from "../src/rpc/call-context.js";
import { RpcError } from "../src/rpc/rpc-error.js";
import type { JsonValue } from "../src/rpc/transport.js";
import { connectNode, FakeSentinel, SENTINEL_SID } from "./support/fake-sentinel.js";

const MATH = "math@fame.fabric";

class MathAgent extends BaseAgent {
  readonly cids: string[] = [];
  private readonly waiting: (() => void)[] = [];
  constructor(readonly name: string) {
    super();
  }
  async add({ x, y }: { x: number; y: number }, ctx: CallContext): Promise<number> {
    this.cids.push(ctx.meta[CHANNEL_META_KEY] ?? "");
    return x + y;
  }
  async whoami(): Promise<string> {
    return this.name;
  }
  /** answers once release() is called */
  async hold(): Promise<string> {
    await new Promise<void>((r) => this.waiting.push(r));
    return "held";
  }
  get holding(): number {
    return this.waiting.length;
  }
  release(): void {
    for (const r of this.waiting.splice(0)) r();
  }
  async *count({ n }: { n: number }): AsyncGenerator<number> {
    for (let i = 0; i < n; i++) yield i;
  }
  async blob({ n }: { n: number }): Promise<string> {
    return "x".repeat(n);
  }
  /** runs until its caller cancels it */
  aborted = 0;
  async untilCancelled(_p: object, ctx: CallContext): Promise<string> {
    await new Promise<void>((r) => ctx.signal.addEventListener("abort", () => r(), { once: true }));
    this.aborted++;
    return "cancelled";
  }
}
defineOperation(MathAgent, "untilCancelled");
defineOperation(MathAgent, "blob");
defineOperation(MathAgent, "add");
defineOperation(MathAgent, "whoami");
defineOperation(MathAgent, "hold");
defineOperation(MathAgent, "count", { streaming: true });

interface MathApi {
  add(p: { x: number; y: number }): Promise<number>;
  whoami(): Promise<string>;
  hold(): Promise<string>;
  count(p: { n: number }): Promise<AsyncIterable<number>>;
}

const open: Fabric[] = [];
afterEach(async () => {
  for (const f of open.splice(0)) await f.close();
});

async function node(sentinel: FakeSentinel, name: string, options?: Parameters<typeof connectNode>[3]) {
  const f = await connectNode(sentinel, name, {}, options);
  open.push(f);
  return f;
}

async function replica(sentinel: FakeSentinel, name: string): Promise<{ f: Fabric; agent: MathAgent }> {
  const f = await node(sentinel, name);
  const agent = new MathAgent(name);
  await agent.serve(MATH, { endpoint: f.endpoint });
  return { f, agent };
}

function mathOn(f: Fabric, idempotent: (keyof MathApi)[] = []) {
  return Agent.remoteByAddress<MathApi>(MATH, { endpoint: f.endpoint, idempotent, timeoutMs: 5000 });
}

const sealedData = (envs: Envelope[]) => envs.filter((e) => isSealedData(e));

/** a fake sentinel, replica1 serving MATH, and a client whose channel to it is warm */
async function warmClient(idempotent: (keyof MathApi)[] = []) {
  const sentinel = new FakeSentinel();
  const { agent } = await replica(sentinel, "replica1");
  const client = await node(sentinel, "client");
  const math = mathOn(client, idempotent);
  expect(await math.add({ x: 1, y: 1 })).toBe(2);
  return { sentinel, agent, client, math };
}

describe("the frame limit", () => {
  it("a request or a result too large for the sentinel's frame fails at once, naming FAME_MAX_FRAME_BYTES", async () => {
    const sentinel = new FakeSentinel();
    sentinel.maxFrameBytes = 16_384;
    await replica(sentinel, "r1");
    const client = await node(sentinel, "client");
    const call = (p: object): Promise<RpcError> =>
      client.endpoint.client.call(MATH, "blob", p, { timeoutMs: 5000 }).then(
        () => {
          throw new Error("expected the call to fail");
        },
        (e: unknown) => e as RpcError,
      );
    expect(await client.endpoint.client.call(MATH, "blob", { n: 10 })).toBe("x".repeat(10));
    const big = await call({ n: 1, pad: "y".repeat(20_000) });
    expect(big.fameCode).toBe("frame_too_large");
    expect(big.message).toMatch(/FAME_MAX_FRAME_BYTES=16384 .* may be up to 10736 bytes/);
    // the answer would not fit: the replica says so, the caller does not wait for its timeout
    const started = Date.now();
    const tooBigResult = await call({ n: 20_000 });
    expect(tooBigResult.fameCode).toBe("frame_too_large");
    expect(tooBigResult.message).toMatch(/FAME_MAX_FRAME_BYTES=16384/);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await client.endpoint.client.call(MATH, "blob", { n: 3 })).toBe("xxx");
  });
});

describe("addresses", () => {
  it("a malformed address fails at once with bad_address: nothing is sent, nothing resent", async () => {
    const sentinel = new FakeSentinel();
    const client = await node(sentinel, "client");
    const sentBefore = sentinel.seen.length;
    const err = (await client.endpoint.client
      .call("math at fame.fabric", "add", { x: 1, y: 2 }, { idempotent: true })
      .catch((e: unknown) => e)) as RpcError;
    expect(err.fameCode).toBe("bad_address");
    expect(err.message).toMatch(/not a fabric address: expected name@logical/);
    expect(client.endpoint.client.metrics().retries).toBe(0);
    expect(sentinel.seen.length).toBe(sentBefore);
  });
});

describe("channel handshake", () => {
  it("SecureOpen, SecureAccept, then sealed Data both ways: nothing in clear", async () => {
    const sentinel = new FakeSentinel();
    const { agent } = await replica(sentinel, "replica1");
    const client = await node(sentinel, "client");
    expect(await mathOn(client).add({ x: 2, y: 3 })).toBe(5);

    const [open] = sentinel.sent("client", "SecureOpen");
    const [accept] = sentinel.sent("replica1", "SecureAccept");
    expect(open?.sec?.sig).toBeDefined();
    expect(accept?.frame).toMatchObject({
      type: "SecureAccept",
      ok: true,
      cid: (open!.frame as { cid: string }).cid,
    });
    expect(accept?.sec?.sig).toBeDefined();
    const cid = (open!.frame as { cid: string }).cid;
    // the request and the answer travel sealed on that channel, and only sealed
    for (const who of ["client", "replica1"]) {
      const data = sentinel.sent(who, "Data");
      expect(data.length).toBe(1);
      expect(sealedData(data)).toEqual(data);
      expect(data[0]?.sec?.enc?.cid).toBe(cid);
      expect(JSON.stringify(data[0])).not.toContain('"add"');
    }
    expect(agent.cids).toEqual([cid]);
    expect(client.node.channels.metrics).toMatchObject({ opened: 1, openFailures: 0 });
  });

  it("streams items back sealed on the call's channel", async () => {
    const sentinel = new FakeSentinel();
    await replica(sentinel, "replica1");
    const client = await node(sentinel, "client");
    const items: number[] = [];
    for await (const v of await mathOn(client).count({ n: 50 })) items.push(v);
    expect(items).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(sentinel.sent("client", "SecureOpen").length).toBe(1);
    const replies = sentinel.sent("replica1", "Data");
    expect(sealedData(replies)).toEqual(replies);
  });

  it("concurrent first calls share one handshake", async () => {
    const sentinel = new FakeSentinel();
    await replica(sentinel, "replica1");
    const client = await node(sentinel, "client");
    const math = mathOn(client);
    const sums = await Promise.all([1, 2, 3, 4].map((x) => math.add({ x, y: 10 })));
    expect(sums).toEqual([11, 12, 13, 14]);
    expect(sentinel.sent("client", "SecureOpen").length).toBe(1);
  });

  it("re-keys: a channel used up opens a fresh one for the next call", async () => {
    const sentinel = new FakeSentinel();
    const { agent } = await replica(sentinel, "replica1");
    const client = await node(sentinel, "client", { channels: { maxMessages: 3 } });
    const math = mathOn(client);
    for (let i = 0; i < 5; i++) expect(await math.add({ x: i, y: 1 })).toBe(i + 1);
    expect(sentinel.sent("client", "SecureOpen").length).toBe(2);
    expect(client.node.channels.metrics.rekeys).toBe(1);
    const [first, second] = [...new Set(agent.cids)];
    expect(agent.cids).toEqual([first, first, first, second, second]);
  });

  it("a draining replica refuses new channels", async () => {
    const sentinel = new FakeSentinel();
    const { f } = await replica(sentinel, "replica1");
    f.drain();
    const client = await node(sentinel, "client");
    const err = await mathOn(client)
      .add({ x: 1, y: 1 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).fameCode).toBe("draining");
    expect(sentinel.sent("replica1", "SecureAccept")[0]?.frame).toMatchObject({
      ok: false,
      code: "draining",
    });
  });
});

describe("who may answer a call", () => {
  it("a call placed on a channel is answered on that channel only: a clear answer naming it is refused", async () => {
    const { sentinel, agent, math } = await warmClient();
    const held = math.hold();
    await expect.poll(() => agent.holding).toBe(1);
    const request = sentinel.sent("client", "Data").at(-1)!;
    const corrId = request.corrId!;
    const mallory = await node(sentinel, "mallory");
    const clientAddress = request.replyTo!;
    const forged = {
      type: "Data" as const,
      codec: "json" as const,
      payload: { jsonrpc: "2.0", id: corrId, result: "forged" },
    };
    // by corrId, and by envelope id (a node reads the id as the conversation when there is no corrId)
    mallory.node.connection.send({
      to: clientAddress,
      replyTo: `rpc@${sentinel.node("mallory").path}`,
      corrId,
      frame: forged,
    });
    mallory.node.connection.send({
      id: corrId,
      to: clientAddress,
      replyTo: `rpc@${sentinel.node("mallory").path}`,
      frame: forged,
    });
    await expect.poll(() => sentinel.sent("client", "DeliveryAck").length).toBe(2);
    for (const nack of sentinel.sent("client", "DeliveryAck").slice(-2))
      expect(nack.frame).toMatchObject({ ok: false, code: "not_authorized" });
    agent.release();
    expect(await held).toBe("held");
  });
});

describe("a caller's cancel (audit round 12)", () => {
  it("aborts the operation's ctx.signal at the replica: it does not run on in a slot for nobody", async () => {
    const { sentinel, agent, client } = await warmClient();
    const controller = new AbortController();
    const call = client.endpoint.client
      .call(MATH, "untilCancelled", {}, { timeoutMs: 5000, signal: controller.signal })
      .then(
        () => "answered",
        (e: unknown) => (e as RpcError).fameCode,
      );
    await expect.poll(() => sentinel.sent("client", "Data").length).toBeGreaterThan(1);
    controller.abort();
    expect(await call).toBe("cancelled");
    await expect.poll(() => agent.aborted).toBe(1);
    // a stranger's cancel naming another caller's running call touches nothing
    const before = sentinel.sent("client", "Data").length;
    const running = client.endpoint.client.call(MATH, "untilCancelled", {}, { timeoutMs: 5000 });
    await expect.poll(() => sentinel.sent("client", "Data").length).toBe(before + 1);
    const victimCall = sentinel.sent("client", "Data").at(-1)!;
    const mallory = await node(sentinel, "mallory");
    mallory.node.connection.send({
      to: MATH,
      replyTo: `rpc@${sentinel.node("mallory").path}`,
      corrId: victimCall.corrId!,
      frame: {
        type: "Data",
        codec: "json",
        payload: { jsonrpc: "2.0", id: victimCall.corrId!, stream: "cancel" },
      },
    });
    await expect.poll(() => sentinel.sent("replica1", "DeliveryAck").length).toBe(1);
    expect(agent.aborted).toBe(1);
    void running.catch(() => undefined);
  });
});

describe("a caller that leaves (audit round 12)", () => {
  it("its sentinel's caller_gone aborts the operation's ctx.signal; nobody else's word does", async () => {
    const { sentinel, agent, client } = await warmClient();
    const before = sentinel.sent("client", "Data").length;
    const running = client.endpoint.client
      .call(MATH, "untilCancelled", {}, { timeoutMs: 5000 })
      .catch(() => undefined);
    await expect.poll(() => sentinel.sent("client", "Data").length).toBe(before + 1);
    const request = sentinel.sent("client", "Data").at(-1)!;
    const goneFrame = (sid: string) =>
      makeEnvelope({
        sid,
        corrId: request.corrId!,
        frame: { type: "DeliveryAck", ok: false, refId: request.id, code: "caller_gone" },
        meta: { [CALLER_SID_META]: sentinel.node("client").sid },
      });
    // a node forging the sentinel's word: ignored
    const mallory = await node(sentinel, "mallory");
    mallory.node.connection.send({
      to: `rpc@${sentinel.node("replica1").path}`,
      corrId: request.corrId!,
      frame: { type: "DeliveryAck", ok: false, refId: request.id, code: "caller_gone" },
      meta: { [CALLER_SID_META]: sentinel.node("client").sid },
    });
    await expect.poll(() => sentinel.sent("mallory", "DeliveryAck").length).toBe(1);
    // the sentinel names another caller: nothing of this one's is touched
    sentinel.node("replica1").link.deliver(
      encodeEnvelope({
        ...goneFrame(SENTINEL_SID),
        meta: { [CALLER_SID_META]: sentinel.node("mallory").sid },
      }),
    );
    await new Promise((r) => setImmediate(r));
    expect(agent.aborted).toBe(0);
    sentinel.node("replica1").link.deliver(encodeEnvelope(goneFrame(SENTINEL_SID)));
    await expect.poll(() => agent.aborted).toBe(1);
    await running;
  });
});

describe("an answer to a sealed request is sealed (audit round 12)", () => {
  it("leaves on the request's channel even when the replica lost track of the conversation", async () => {
    const sentinel = new FakeSentinel();
    const { f: replicaNode, agent } = await replica(sentinel, "replica1");
    const math = mathOn(await node(sentinel, "client"));
    expect(await math.add({ x: 1, y: 1 })).toBe(2);
    const held = math.hold();
    await expect.poll(() => agent.holding).toBe(1);
    const request = sentinel.sent("client", "Data").at(-1)!;
    expect(isSealedData(request)).toBe(true);
    // the conversation table loses the call, as a flood of other callers' conversations made
    // it evict its oldest entry: the answer must still leave sealed
    (replicaNode.node as unknown as { conversations: { forget(corrId: string): void } }).conversations.forget(
      request.corrId!,
    );
    const before = sentinel.sent("replica1", "Data").length;
    agent.release();
    expect(await held).toBe("held");
    const answers = sentinel.sent("replica1", "Data").slice(before);
    expect(answers.length).toBeGreaterThan(0);
    for (const a of answers) expect(isSealedData(a)).toBe(true);
  });

  it("answers with channel_closed, nothing of the result in clear, when the client closed the channel under the running call", async () => {
    const sentinel = new FakeSentinel();
    const { f: replicaNode, agent } = await replica(sentinel, "replica1");
    const client = await node(sentinel, "client");
    const math = mathOn(client);
    expect(await math.add({ x: 1, y: 1 })).toBe(2);
    const held = math.hold().catch((e: unknown) => e as RpcError);
    await expect.poll(() => agent.holding).toBe(1);
    const request = sentinel.sent("client", "Data").at(-1)!;
    const ch = await client.node.channels.forAddress(MATH);
    // the client's own SecureClose, which its replica obeys (audit round 13: the answer then
    // left nowhere, and the sentinel took the honest replica for stalled)
    client.node.connection.send({
      to: `rpc@${sentinel.node("replica1").path}`,
      frame: { type: "SecureClose", cid: ch.cid, reason: "bye" },
    });
    await expect.poll(() => replicaNode.node.channels.byId(ch.cid)).toBeUndefined();
    const dataBefore = sentinel.sent("replica1", "Data").length;
    agent.release();
    const err = (await held) as RpcError;
    expect(err.fameCode).toBe("channel_closed");
    const [nack] = sentinel.sent("replica1", "DeliveryAck");
    expect(nack).toMatchObject({ corrId: request.corrId, frame: { ok: false, code: "channel_closed" } });
    expect(nack!.meta?.["notExecuted"]).toBeUndefined();
    expect(JSON.stringify(nack)).not.toContain('"held"');
    expect(sentinel.sent("replica1", "Data").length).toBe(dataBefore);
  });
});

describe("messages a replica rightly ignores (audit round 11)", () => {
  it("refuses, which answers, a message to a served address that is no request: the sentinel would hold it as an unanswered call", async () => {
    const sentinel = new FakeSentinel();
    await replica(sentinel, "replica1");
    const mallory = await node(sentinel, "mallory");
    const replyTo = `rpc@${sentinel.node("mallory").path}`;
    const send = (to: string, corrId: string, payload: JsonValue) =>
      mallory.node.connection.send({ to, replyTo, corrId, frame: { type: "Data", codec: "json", payload } });
    // a reply to the replica's own address is no call the sentinel holds: nothing to refuse
    send(`rpc@${sentinel.node("replica1").path}`, "junk-physical", { jsonrpc: "2.0", id: "p", result: 0 });
    const junk: JsonValue[] = [
      { jsonrpc: "2.0", id: "j1", result: 0 }, // a reply, to nobody's call
      { jsonrpc: "2.0", id: "j2", stream: "credit", n: 4 }, // credit for no stream
      { jsonrpc: "2.0", id: "j3", stream: "cancel" }, // cancel of no stream
      { jsonrpc: "2.0", id: "j4", stream: "item", seq: 0, result: 1 }, // a stream item, to nobody
    ];
    for (const [i, payload] of junk.entries()) send(MATH, `junk${i}`, payload);
    // one link, in order: once the last is answered, the physical one has been read too
    await expect.poll(() => sentinel.sent("replica1", "DeliveryAck").length).toBe(junk.length);
    const nacks = sentinel.sent("replica1", "DeliveryAck");
    expect(nacks.map((n) => n.corrId).sort()).toEqual(["junk0", "junk1", "junk2", "junk3"]);
    for (const n of nacks) {
      expect(n.to).toBe(replyTo);
      expect(n.frame).toMatchObject({ ok: false, code: "bad_envelope" });
    }
    // requests, and a live stream's credits, are served as ever, with nothing refused
    const math = mathOn(await node(sentinel, "client"));
    const items: number[] = [];
    for await (const n of await math.count({ n: 100 })) items.push(n);
    expect(items).toHaveLength(100);
    expect(await math.add({ x: 2, y: 3 })).toBe(5);
    expect(sentinel.sent("client", "Data").length).toBeGreaterThan(2); // the credits went out
    expect(sentinel.sent("replica1", "DeliveryAck")).toHaveLength(junk.length);
  });
});

describe("coalescing", () => {
  it("calls sent in one turn leave as one sealed record", async () => {
    const sentinel = new FakeSentinel();
    const { agent } = await replica(sentinel, "replica1");
    const client = await node(sentinel, "client");
    const math = mathOn(client);
    await math.add({ x: 0, y: 0 });
    const before = sentinel.sent("client", "Data").length;
    const sums = await Promise.all(Array.from({ length: 10 }, (_, i) => math.add({ x: i, y: 100 })));
    expect(sums).toEqual(Array.from({ length: 10 }, (_, i) => i + 100));
    const records = sentinel.sent("client", "Data").slice(before);
    expect(records.length).toBe(1);
    expect(records[0]?.frame).toMatchObject({ codec: "enc" });
    expect((records[0]!.frame as { batch?: unknown[] }).batch?.length).toBe(10);
    // the replica answers the record's calls in fewer records than calls, on the same channel
    expect(sentinel.sent("replica1", "Data").length).toBeLessThan(11);
    expect(new Set(agent.cids).size).toBe(1);
  });

  it("with coalescing off, one record per call", async () => {
    const sentinel = new FakeSentinel();
    await replica(sentinel, "replica1");
    const client = await node(sentinel, "client", { coalesce: false });
    const math = mathOn(client);
    await math.add({ x: 0, y: 0 });
    const before = sentinel.sent("client", "Data").length;
    await Promise.all(Array.from({ length: 10 }, (_, i) => math.add({ x: i, y: 100 })));
    const records = sentinel.sent("client", "Data").slice(before);
    expect(records.length).toBe(10);
    expect(records.every((r) => (r.frame as { batch?: unknown }).batch === undefined)).toBe(true);
  });
});

describe("failover", () => {
  it("channel_unknown (its replica is gone): the retry opens a channel to another replica", async () => {
    const sentinel = new FakeSentinel();
    const one = await replica(sentinel, "replica1");
    const client = await node(sentinel, "client");
    const math = mathOn(client);
    expect(await math.whoami()).toBe("replica1");
    await replica(sentinel, "replica2");
    // replica1 leaves: the sentinel answers data on its channel with channel_unknown
    await one.f.close();
    expect(await math.whoami()).toBe("replica2");
    expect(sentinel.sent("client", "SecureOpen").length).toBe(2);
    expect(client.node.channels.metrics.invalidated).toBe(1);
    expect(client.endpoint.client.metrics()).toMatchObject({ retries: 1, failovers: 1, failures: 0 });
  });

  it("channel_conflict on its data (another client holds the id at this sentinel): the retry opens a fresh channel", async () => {
    const { sentinel, math } = await warmClient();
    const first = sentinel.sent("client", "SecureOpen")[0]!.frame as { cid: string };
    let refused = 0;
    sentinel.tap = (env) => {
      if (isSealedData(env) && env.to === MATH && env.sec?.enc?.cid === first.cid) {
        refused++;
        sentinel.nack(env, "channel_conflict", true);
        return "drop";
      }
      return "relay";
    };
    expect(await math.add({ x: 2, y: 2 })).toBe(4);
    expect(refused).toBe(1);
    const opens = sentinel.sent("client", "SecureOpen").map((e) => (e.frame as { cid: string }).cid);
    expect(opens).toHaveLength(2);
    expect(opens[1]).not.toBe(first.cid);
    // and it stays on the new channel
    expect(await math.add({ x: 3, y: 3 })).toBe(6);
    expect(refused).toBe(1);
  });

  it("replica_unavailable, not executed: the channel is dropped and the retry re-opens one", async () => {
    const { sentinel, client, math } = await warmClient();
    let refused = 0;
    sentinel.tap = (env) => {
      if (refused === 0 && isSealedData(env) && env.to === MATH) {
        refused++;
        sentinel.nack(env, "replica_unavailable", true);
        return "drop";
      }
      return "relay";
    };
    expect(await math.add({ x: 2, y: 2 })).toBe(4);
    expect(refused).toBe(1);
    expect(sentinel.sent("client", "SecureOpen").length).toBe(2);
    expect(client.endpoint.client.metrics()).toMatchObject({ retries: 1, failovers: 1 });
  });

  it("replica_unavailable, channel kept (the replica moved to another sentinel): the retry goes on the same channel", async () => {
    const { sentinel, client, math } = await warmClient(["add"]);
    let refused = 0;
    sentinel.tap = (env) => {
      if (refused === 0 && isSealedData(env) && env.to === MATH) {
        refused++;
        sentinel.nack(env, "replica_unavailable", false, true);
        return "drop";
      }
      return "relay";
    };
    expect(await math.add({ x: 2, y: 2 })).toBe(4);
    expect(refused).toBe(1);
    expect(sentinel.sent("client", "SecureOpen").length).toBe(1);
    expect(client.node.channels.metrics.invalidated).toBe(0);
    expect(client.endpoint.client.metrics()).toMatchObject({ retries: 1, failures: 0 });
  });

  it("replica_unavailable after the call may have run: a non-idempotent call fails, as the caller must know", async () => {
    const { sentinel, client, math } = await warmClient();
    sentinel.tap = (env) => {
      if (isSealedData(env) && env.to === MATH) {
        sentinel.nack(env, "replica_unavailable", false);
        return "drop";
      }
      return "relay";
    };
    const err = await math.add({ x: 2, y: 2 }).catch((e: unknown) => e);
    expect((err as RpcError).fameCode).toBe("replica_unavailable");
    expect(client.endpoint.client.metrics().retries).toBe(0);
  });

  it("connection loss, same sid: calls in flight fail (idempotent ones retried), channels survive the reattach", async () => {
    const sentinel = new FakeSentinel();
    const { agent } = await replica(sentinel, "replica1");
    const client = await node(sentinel, "client");
    const math = mathOn(client);
    const idempotent = mathOn(client, ["whoami", "hold"]);
    await math.add({ x: 1, y: 1 });
    const held = math.hold().catch((e: unknown) => e);
    const retried = idempotent.hold();
    await expect.poll(() => agent.holding).toBe(2);

    sentinel.cut("client");
    const err = await held;
    expect((err as RpcError).fameCode).toBe("replica_unavailable");
    expect((err as RpcError).notExecuted).toBe(false);

    // a call made during the outage waits for the reattach, then goes on the same channel:
    // the node kept its sid, so the replica's keys and the fabric's pin still hold
    const during = math.add({ x: 20, y: 22 });
    await expect.poll(() => client.connection.state, { timeout: 3000 }).toBe("attached");
    expect(await during).toBe(42);
    expect(sentinel.dials.get("client")).toBe(2);
    expect(sentinel.sent("client", "SecureOpen").length).toBe(1);
    expect(client.node.channels.metrics.invalidated).toBe(0);
    expect(new Set(agent.cids).size).toBe(1);
    // the idempotent call ran again after the reattach; the other one did not
    await expect.poll(() => agent.holding).toBe(3);
    agent.release();
    expect(await retried).toBe("held");
  });

  it("after a reattach under the same sid, records carry the AFT until the replica answers (a restarted sentinel re-pins from it)", async () => {
    const { sentinel, client, math } = await warmClient();
    const aftSent = () => sentinel.sent("client", "Data").map((e) => e.aft !== undefined);
    expect(aftSent()).toEqual([false]);
    sentinel.cut("client");
    await expect.poll(() => client.connection.state, { timeout: 3000 }).toBe("attached");
    expect(await math.add({ x: 2, y: 2 })).toBe(4);
    expect(await math.add({ x: 3, y: 3 })).toBe(6);
    // only the first record after the reattach: once answered, the pin is known to hold
    expect(aftSent()).toEqual([false, true, false]);
    expect(sentinel.sent("client", "SecureOpen").length).toBe(1);
  });

  it("just after a reattach, a no_route (replicas still binding again) is waited out, even for a call that is not idempotent", async () => {
    const { sentinel, agent, client, math } = await warmClient(); // nothing idempotent
    // before any reattach a no_route is final for such a call
    let refusals = 1;
    sentinel.tap = (env, from) => {
      if (from.name !== "client" || env.frame.type !== "Data" || refusals === 0) return "relay";
      refusals--;
      sentinel.nack(env, "no_route", true);
      return "drop";
    };
    const err = await math.add({ x: 2, y: 2 }).catch((e: unknown) => e);
    expect((err as RpcError).fameCode).toBe("no_route");
    sentinel.cut("client");
    await expect.poll(() => client.connection.state, { timeout: 3000 }).toBe("attached");
    // more refusals than the default retry budget (3): waiting out a settling no_route spends none
    refusals = 5;
    expect(await math.add({ x: 20, y: 22 })).toBe(42);
    expect(refusals).toBe(0);
    expect(agent.cids.length).toBe(2);
  });

  it("reattach under a new sid: channels bound to the old one are dropped, the next call opens a fresh one", async () => {
    const sentinel = new FakeSentinel();
    const one = await replica(sentinel, "replica1");
    const client = await node(sentinel, "client");
    const math = mathOn(client);
    await math.add({ x: 1, y: 1 });
    const oldSid = client.connection.sid;
    const oldCid = one.agent.cids[0];
    // a replica that never met the client: it learns the client's key under the new sid
    await one.f.close();
    const two = await replica(sentinel, "replica2");

    sentinel.pathPrefix = "/elsewhere";
    sentinel.cut("client");
    await expect.poll(() => sentinel.dials.get("client"), { timeout: 3000 }).toBe(2);
    expect(await client.connection.whenAttached(3000)).toBe(true);
    expect(client.connection.sid).not.toBe(oldSid);
    // dropped at the reattach, not found dead by a call
    expect(client.node.channels.metrics.invalidated).toBe(1);
    expect(client.node.channels.size).toBe(0);
    expect(await math.add({ x: 2, y: 3 })).toBe(5);
    expect(client.endpoint.client.metrics().retries).toBe(0);
    const opens = sentinel.sent("client", "SecureOpen");
    expect(opens.map((e) => e.sid)).toEqual([oldSid, client.connection.sid]);
    expect(two.agent.cids).toHaveLength(1);
    expect(two.agent.cids[0]).not.toBe(oldCid);
  });

  it("a pending open fails fast when the link drops, and is not left waiting for its timeout", async () => {
    const sentinel = new FakeSentinel();
    await replica(sentinel, "replica1");
    const client = await node(sentinel, "client");
    sentinel.tap = (env) => (env.frame.type === "SecureOpen" ? "drop" : "relay");
    const started = Date.now();
    const call = mathOn(client)
      .add({ x: 1, y: 1 })
      .catch((e: unknown) => e);
    await expect.poll(() => sentinel.sent("client", "SecureOpen").length).toBe(1);
    sentinel.cut("client");
    const err = (await call) as RpcError;
    expect(err.fameCode).toBe("replica_unavailable");
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("the replica's link drops, same sid: it keeps its accepted channels and serves them after the reattach", async () => {
    const sentinel = new FakeSentinel();
    const one = await replica(sentinel, "replica1");
    const client = await node(sentinel, "client");
    const math = mathOn(client, ["add"]);
    expect(await math.add({ x: 1, y: 1 })).toBe(2);

    sentinel.cut("replica1");
    await expect.poll(() => sentinel.dials.get("replica1"), { timeout: 3000 }).toBe(2);
    expect(await one.f.connection.whenAttached(3000)).toBe(true);
    expect(one.f.node.channels.size).toBe(1);
    expect(await math.add({ x: 2, y: 2 })).toBe(4);
    expect(sentinel.sent("client", "SecureOpen").length).toBe(1);
    expect(new Set(one.agent.cids).size).toBe(1);
  });
});
