import { requestJson } from "@fame/http-service/client";
import { Agent, type Fabric, isRpcStream, RpcError } from "@fame/sdk";
import { type FabricStack, startFabricStack } from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestClients, tearDown } from "../support/fabric-clients.js";

/**
 * Issue 4's end-to-end check with real processes: OAuth2 + Welcome + CA +
 * sentinel + two replicas of math@fame.fabric, strict-overlay, plaintext
 * payloads, round robin; SIGKILL of a replica with calls in flight.
 */
interface MathApi {
  add(p: { x: number; y: number }): Promise<number>;
  multiply(p: { x: number; y: number }): Promise<number>;
  fib_stream(p: { n: number }): Promise<AsyncIterable<number>>;
  sleep(p: { ms: number }): Promise<number>;
  whoami(): Promise<{ replica: string }>;
}

let stack: FabricStack;
const clients = new TestClients(() => stack);
const client = (): Promise<Fabric> => clients.connect();

const served = (name: string) =>
  (
    stack.replicas
      .get(name)
      ?.output()
      .match(/"msg":"served"/g) ?? []
  ).length;

beforeAll(async () => {
  stack = await startFabricStack({ securityProfile: "strict-overlay", encryption: "plaintext" });
  await stack.startReplica("replica1");
  await stack.startReplica("replica2");
}, 120_000);

afterAll(() => tearDown(stack, clients));

describe("fabric RPC, strict-overlay, plaintext", () => {
  it("adds, multiplies and streams through the sentinel", async () => {
    const f = await client();
    const math = Agent.remoteByAddress<MathApi>("math@fame.fabric", { endpoint: f.endpoint });
    expect(await math.add({ x: 3, y: 4 })).toBe(7);
    expect(await math.multiply({ x: 6, y: 7 })).toBe(42);
    const stream = await math.fib_stream({ n: 10 });
    expect(isRpcStream(stream) || Symbol.asyncIterator in Object(stream)).toBe(true);
    const items: number[] = [];
    for await (const v of stream) items.push(v);
    expect(items).toEqual([0, 1, 1, 2, 3, 5, 8, 13, 21, 34]);
  });

  it("carries 64 concurrent calls as signed batches both ways, and spreads the batches over both replicas", async () => {
    const f = await client();
    const math = Agent.remoteByAddress<MathApi>("math@fame.fabric", { endpoint: f.endpoint });
    const routed = async () =>
      (
        await requestJson<{ counters: { routed: number } }>(`${stack.urls.sentinel}/fame/v1/status`, {
          ca: stack.trustBundle,
          headers: stack.adminHeaders,
        })
      ).counters.routed;
    const before = [await routed(), served("replica1"), served("replica2")] as const;
    const sums = await Promise.all(Array.from({ length: 64 }, (_, i) => math.add({ x: i, y: 1 })));
    expect(sums).toEqual(Array.from({ length: 64 }, (_, i) => i + 1));
    // the 64 requests of one turn left as batches of at most 32 (one signature each, verified
    // by the sentinel and the replica), each placed on one replica; the answers came back the same way
    const envelopes = (await routed()) - before[0];
    expect(envelopes).toBeGreaterThanOrEqual(4);
    expect(envelopes).toBeLessThan(16);
    await expect.poll(() => served("replica1") - before[1]).toBeGreaterThan(0);
    await expect.poll(() => served("replica2") - before[2]).toBeGreaterThan(0);
  });

  it("spreads plaintext calls over both replicas (round robin)", async () => {
    const f = await client();
    const math = Agent.remoteByAddress<MathApi>("math@fame.fabric", { endpoint: f.endpoint });
    const before = [served("replica1"), served("replica2")];
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++) seen.add((await math.whoami()).replica);
    expect(seen).toEqual(new Set(["replica1", "replica2"]));
    await expect.poll(() => served("replica1") - before[0]!).toBeGreaterThanOrEqual(4);
    await expect.poll(() => served("replica2") - before[1]!).toBeGreaterThanOrEqual(4);
  });

  it("fails in-flight calls fast with replica_unavailable when a replica is SIGKILLed", async () => {
    const f = await client();
    const math = Agent.remoteByAddress<MathApi>("math@fame.fabric", { endpoint: f.endpoint });
    // one call per turn: calls of one turn would travel as one batch, placed on one replica
    const calls = [];
    for (let i = 0; i < 4; i++) {
      calls.push(
        math.sleep({ ms: 8000 }).then(
          (v) => ({ ok: true as const, v, at: Date.now() }),
          (e: unknown) => ({ ok: false as const, e, at: Date.now() }),
        ),
      );
      await new Promise((resolve) => setImmediate(resolve));
    }
    // wait until both replicas hold calls
    await expect
      .poll(
        () =>
          (
            stack.replicas
              .get("replica1")
              ?.output()
              .match(/"op":"sleep"/g) ?? []
          ).length,
      )
      .toBeGreaterThan(0);
    await expect
      .poll(
        () =>
          (
            stack.replicas
              .get("replica2")
              ?.output()
              .match(/"op":"sleep"/g) ?? []
          ).length,
      )
      .toBeGreaterThan(0);
    const killedAt = Date.now();
    await stack.replicas.get("replica1")!.stop("SIGKILL");
    const results = await Promise.all(calls);
    const failed = results.filter((r) => !r.ok);
    expect(failed.length).toBeGreaterThanOrEqual(1);
    for (const r of failed) {
      expect(r.e).toBeInstanceOf(RpcError);
      expect((r.e as RpcError).fameCode).toBe("replica_unavailable");
    }
    // the failures came with the kill, not at the end of the 8 s sleep or a 30 s call timeout
    for (const r of failed) expect(r.at - killedAt).toBeLessThan(5000);
    expect(results.filter((r) => r.ok).length).toBe(4 - failed.length);
    // later calls succeed on the survivor
    for (let i = 0; i < 5; i++) expect((await math.whoami()).replica).toBe("replica2");
    expect(await math.add({ x: 1, y: 1 })).toBe(2);
  });
});
