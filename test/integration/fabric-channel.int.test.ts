import type { Fabric } from "@fame/sdk";
import { type FabricStack, startFabricStack } from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestClients, tearDown } from "../support/fabric-clients.js";

/**
 * Issue 5's end-to-end check: strict-overlay with channel encryption over two
 * replicas. A channel is pinned to the replica that accepted it; when that
 * replica dies the SDK re-opens a channel elsewhere without surfacing an error.
 */
interface MathApi {
  add(p: { x: number; y: number }): Promise<number>;
  whoami(): Promise<{ replica: string }>;
}

let stack: FabricStack;
const clients = new TestClients(() => stack);

async function client(): Promise<{ f: Fabric; math: MathApi }> {
  const { f, api } = await clients.remote<MathApi>("math@fame.fabric", { idempotent: ["add", "whoami"] });
  return { f, math: api };
}

const adds = (name: string) =>
  (
    stack.replicas
      .get(name)
      ?.output()
      .match(/"op":"add"/g) ?? []
  ).length;

beforeAll(async () => {
  stack = await startFabricStack({ securityProfile: "strict-overlay", encryption: "channel" });
  await stack.startReplica("replica1");
  await stack.startReplica("replica2");
}, 120_000);

afterAll(() => tearDown(stack, clients));

describe("channel encryption with strict AFT stickiness", () => {
  let pinned = "";
  let first: { f: Fabric; math: MathApi };

  it("keeps 100 calls of one channel on the replica that accepted it", async () => {
    first = await client();
    pinned = (await first.math.whoami()).replica;
    const before = { replica1: adds("replica1"), replica2: adds("replica2") };
    for (let i = 0; i < 100; i++) expect(await first.math.add({ x: i, y: 1 })).toBe(i + 1);
    const other = pinned === "replica1" ? "replica2" : "replica1";
    await expect.poll(() => adds(pinned) - before[pinned as "replica1"]).toBe(100);
    expect(adds(other) - before[other as "replica1"]).toBe(0);
    expect(first.f.node.channels.metrics.opened).toBe(1);
    // the sentinel holds exactly the pins it should, for the pinned replica only
    const status = (await (
      await import("@fame/http-service/client")
    ).requestJson(`${stack.urls.sentinel}/fame/v1/status`, {
      ca: stack.trustBundle,
      headers: stack.adminHeaders,
    })) as {
      stickiness: { pinsCreated: number; hits: number };
    };
    expect(status.stickiness.pinsCreated).toBeGreaterThanOrEqual(1);
    expect(status.stickiness.hits).toBeGreaterThanOrEqual(100);
  });

  it("gives a second client its own channel, possibly on the other replica", async () => {
    const second = await client();
    const replica = (await second.math.whoami()).replica;
    expect(["replica1", "replica2"]).toContain(replica);
    for (let i = 0; i < 5; i++) expect((await second.math.whoami()).replica).toBe(replica);
  });

  it("fails over to the other replica without surfacing an error when the pinned one is killed", async () => {
    await stack.replicas.get(pinned)!.stop("SIGKILL");
    const other = pinned === "replica1" ? "replica2" : "replica1";
    const started = Date.now();
    expect(await first.math.add({ x: 20, y: 22 })).toBe(42);
    const elapsed = Date.now() - started;
    expect((await first.math.whoami()).replica).toBe(other);
    const m = first.f.endpoint.client.metrics();
    expect(m.failovers).toBeGreaterThanOrEqual(1);
    expect(m.failures).toBe(0);
    console.log(`failover: next call took ${elapsed} ms; SDK failover latency ${m.lastFailoverLatencyMs} ms`);
  });

  it("lets new channels land on a restarted replica", async () => {
    await stack.startReplica(pinned);
    const seen = new Set<string>();
    for (let i = 0; i < 6 && !seen.has(pinned); i++) {
      const c = await client();
      seen.add((await c.math.whoami()).replica);
    }
    expect(seen.has(pinned)).toBe(true);
  });

  it("keeps a channel on its replica across a restart of the lone sentinel, with no new handshake", async () => {
    const c = await client();
    const replica = (await c.math.whoami()).replica;
    const sid = c.f.connection.sid;
    expect(c.f.node.channels.metrics.opened).toBe(1);
    await stack.restartSentinel();
    // the replicas' reattach is awaited, not slept on: both bound again (memory mode: no pins)
    await expect
      .poll(
        async () => {
          const status = (await (
            await import("@fame/http-service/client")
          ).requestJson(`${stack.urls.sentinel}/fame/v1/status`, {
            ca: stack.trustBundle,
            headers: stack.adminHeaders,
          })) as { pools: { pools: { address: string; members: unknown[] }[] } };
          return status.pools.pools.find((p) => p.address === "math@fame.fabric")?.members.length ?? 0;
        },
        { timeout: 20_000, interval: 100 },
      )
      .toBe(2);
    expect(await c.math.add({ x: 40, y: 2 })).toBe(42);
    for (let i = 0; i < 5; i++) expect((await c.math.whoami()).replica).toBe(replica);
    // same identity (Welcome derives it), same channel: its AFT re-pinned it at the new sentinel
    expect(c.f.connection.sid).toBe(sid);
    expect(c.f.node.channels.metrics.opened).toBe(1);
    expect(c.f.endpoint.client.metrics().failures).toBe(0);
  });
});
