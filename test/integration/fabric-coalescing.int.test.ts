import { batchOf, type Envelope, isSealedData } from "@fame/protocol";
import { Agent, type Fabric } from "@fame/sdk";
import { type FabricStack, startFabricStack } from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestClients, tearDown } from "../support/fabric-clients.js";

/**
 * Coalesced channel records end to end: strict-overlay, channel encryption, one math-agent
 * replica. Calls and stream items sent on a channel in one event-loop turn travel as one
 * sealed record; a node with coalescing off still talks to one that has it on.
 */
interface MathApi {
  add(p: { x: number; y: number }): Promise<number>;
  fib_stream(p: { n: number }): Promise<AsyncIterable<number>>;
  whoami(): Promise<{ replica: string }>;
}

const MATH = "math@fame.fabric";

/** Sealed records a client sent and received, and the messages they carried. */
interface RecordCounts {
  sent: number;
  sentBatched: number;
  sentMessages: number;
  received: number;
  receivedBatched: number;
  receivedMessages: number;
  /** most messages seen in one received record */
  largestReceived: number;
}

/**
 * Counts the client's sealed Data envelopes at the connection, both ways. The wrappers
 * replace instance members of this one test client only.
 */
function countRecords(f: Fabric): RecordCounts {
  const counts: RecordCounts = {
    sent: 0,
    sentBatched: 0,
    sentMessages: 0,
    received: 0,
    receivedBatched: 0,
    receivedMessages: 0,
    largestReceived: 0,
  };
  const connection = f.connection;
  const sent = (env: Envelope): Envelope => {
    if (isSealedData(env)) {
      const batch = batchOf(env);
      counts.sent++;
      counts.sentMessages += batch?.length ?? 1;
      if (batch) counts.sentBatched++;
    }
    return env;
  };
  // channel data leaves through sendSealed; send is watched too, so nothing sealed escapes the count
  const send = connection.send.bind(connection);
  connection.send = ((init: Parameters<typeof send>[0], prepare?: (env: Envelope) => void) =>
    sent(send(init, prepare))) as typeof connection.send;
  const sendSealed = connection.sendSealed.bind(connection);
  connection.sendSealed = (init, seal) => sent(sendSealed(init, seal));
  // what the connection delivers reaches the node through its onEnvelope
  const deliver = f.node.onEnvelope.bind(f.node);
  f.node.onEnvelope = (env) => {
    if (isSealedData(env)) {
      const n = batchOf(env)?.length ?? 1;
      counts.received++;
      counts.receivedMessages += n;
      if (n > 1) counts.receivedBatched++;
      counts.largestReceived = Math.max(counts.largestReceived, n);
    }
    deliver(env);
  };
  return counts;
}

/** what changed in `counts` since `before` */
function since(counts: RecordCounts, before: RecordCounts): RecordCounts {
  const out = { ...counts };
  for (const key of Object.keys(out) as (keyof RecordCounts)[])
    if (key !== "largestReceived") out[key] -= before[key];
  return out;
}

function fibonacci(n: number): number[] {
  const out: number[] = [];
  let a = 0;
  let b = 1;
  for (let i = 0; i < n; i++) {
    out.push(a);
    [a, b] = [b, a + b];
  }
  return out;
}

let stack: FabricStack;
const clients = new TestClients(() => stack);

const adds = () =>
  (
    stack.replicas
      .get("replica1")
      ?.output()
      .match(/"op":"add"/g) ?? []
  ).length;

async function client(env: Record<string, string>): Promise<{
  f: Fabric;
  math: MathApi;
  counts: RecordCounts;
}> {
  const f = await clients.connect({ FAME_DEFAULT_ENCRYPTION_LEVEL: "channel", ...env });
  const counts = countRecords(f);
  const math = Agent.remoteByAddress<MathApi>(MATH, { endpoint: f.endpoint, idempotent: ["add", "whoami"] });
  // opens the channel, so what follows is channel data only
  expect((await math.whoami()).replica).toBe("replica1");
  expect(f.node.channels.metrics.opened).toBe(1);
  return { f, math, counts };
}

beforeAll(async () => {
  stack = await startFabricStack({ securityProfile: "strict-overlay", encryption: "channel" });
  await stack.startReplica("replica1");
}, 120_000);

afterAll(() => tearDown(stack, clients));

describe("coalesced channel records", () => {
  let coalescing: Awaited<ReturnType<typeof client>>;

  it("answers 200 concurrent calls correctly, sent in far fewer records than calls", async () => {
    coalescing = await client({});
    const { f, math, counts } = coalescing;
    const channel = f.node.channels.readyFor(MATH);
    expect(channel).toBeDefined();
    const sealedBefore = channel!.sealed;
    const before = { ...counts };
    const addsBefore = adds();
    const sums = await Promise.all(Array.from({ length: 200 }, (_, i) => math.add({ x: i, y: 1000 })));
    expect(sums).toEqual(Array.from({ length: 200 }, (_, i) => i + 1000));
    const d = since(counts, before);
    // every call went out sealed on the one channel, most of them sharing records
    expect(channel!.sealed - sealedBefore).toBe(200);
    expect(d.sentMessages).toBe(200);
    expect(d.sent).toBeLessThan(200);
    expect(d.sentBatched).toBeGreaterThan(0);
    // the replica coalesces its answers too
    expect(d.receivedMessages).toBe(200);
    expect(d.received).toBeLessThan(200);
    expect(f.node.channels.metrics.opened).toBe(1);
    // each call ran exactly once
    await expect.poll(() => adds() - addsBefore).toBe(200);
  });

  it("streams fib_stream({n: 300}) in order, items arriving several to a record", async () => {
    const { math, counts } = coalescing;
    counts.largestReceived = 0;
    const before = { ...counts };
    const items: number[] = [];
    for await (const v of await math.fib_stream({ n: 300 })) {
      items.push(v);
      if (items.length > 300) break;
    }
    expect(items).toEqual(fibonacci(300));
    const d = since(counts, before);
    // 300 items and the end, delivered one by one from fewer records
    expect(d.receivedMessages).toBe(301);
    expect(d.received).toBeLessThan(301);
    expect(counts.largestReceived).toBeGreaterThan(1);
  });

  it("interoperates with a client that has coalescing turned off", async () => {
    const plain = await client({ FAME_CHANNEL_COALESCE: "false" });
    const before = { ...plain.counts };
    const sums = await Promise.all(Array.from({ length: 50 }, (_, i) => plain.math.add({ x: i, y: -7 })));
    expect(sums).toEqual(Array.from({ length: 50 }, (_, i) => i - 7));
    const items: number[] = [];
    for await (const v of await plain.math.fib_stream({ n: 100 })) {
      items.push(v);
      if (items.length > 100) break;
    }
    expect(items).toEqual(fibonacci(100));
    const d = since(plain.counts, before);
    // it sends one record per message (calls, stream call and its credits)...
    expect(d.sentBatched).toBe(0);
    expect(d.sent).toBe(d.sentMessages);
    expect(d.sent).toBeGreaterThanOrEqual(51);
    // ...and opens the coalesced records of the replica, which still batches its answers
    expect(d.receivedMessages).toBe(50 + 101);
    expect(d.receivedBatched).toBeGreaterThan(0);
    // meanwhile the coalescing client is unaffected
    expect(await coalescing.math.add({ x: 1, y: 2 })).toBe(3);
  });
});
