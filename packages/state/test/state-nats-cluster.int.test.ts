import { createLogger } from "@fame/logger";
import { type NatsCluster, startNatsCluster } from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FabricState, openFabricState } from "../src/index.js";
import { retryUnavailable, settingsFor, untilChange, untilRecovered, untilStatus } from "./nats-helpers.js";

const log = createLogger({
  name: "state-cluster-int",
  level: process.env["FAME_TEST_LOG"] ? "debug" : "silent",
});

describe("shared state on a 3-node JetStream cluster (R3 buckets)", () => {
  let cluster: NatsCluster;
  let a: FabricState;
  let b: FabricState;

  beforeAll(async () => {
    cluster = await startNatsCluster(3);
    // a is on node 0, b on node 1 (the client picks at random among several URLs); each learns
    // the other nodes from the cluster, so killing node 0 moves a to a survivor
    a = await openFabricState(settingsFor(cluster.urls[0]!, 3), log.child({ inst: "a" }), {
      name: "state-a",
    });
    b = await openFabricState(settingsFor(cluster.urls[1]!, 3), log.child({ inst: "b" }), {
      name: "state-b",
    });
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await cluster?.stop();
  });

  it("an election still decides with one NATS node down, and tickets stay single-use", async () => {
    const exp = Date.now() + 120_000;
    expect(await a.tickets.spend("jti-before", exp)).toBe(true);
    // on a loaded 2-core box the survivors' raft elections and a's resync took up to ~20 s
    const recovered = untilRecovered(a, 45_000);
    await cluster.kill(0);
    // a's connection moves to a surviving node and it resyncs; b stays connected, hears that
    // node 0 left and restarts its watches (their consumers may have lived there)
    await recovered;
    expect((await untilStatus(b, "ok", 45_000)).state).toBe("ok");
    // a bucket whose raft leader was on node 0 answers again once the survivors elect another
    const [{ value: x, waitedMs }, { value: y }] = await Promise.all([
      retryUnavailable(() => a.elections.claim("single@fame.fabric", { holder: "r-a", sentinelId: "s-a" })),
      retryUnavailable(() => b.elections.claim("single@fame.fabric", { holder: "r-b", sentinelId: "s-b" })),
    ]);
    console.log(`election with node 0 down decided after ${waitedMs} ms of retries`);
    expect(x).toEqual(y);
    expect(["r-a", "r-b"]).toContain(x.holder);
    const seen = untilChange((cb) => {
      const other = x.holder === "r-a" ? b : a;
      if (other.elections.current("single@fame.fabric")?.holder === x.holder) {
        queueMicrotask(() => cb(x.holder));
        return () => {};
      }
      return other.elections.onChange((_p, r) => r?.holder === x.holder && cb(r.holder));
      // a watch whose consumer lived on node 0 is re-created only after its missed heartbeats
    }, 30_000);
    expect(await seen).toBe(x.holder);
    // the tickets bucket has no watch: its raft leader may still be moving off node 0
    expect((await retryUnavailable(() => b.tickets.spend("jti-before", exp))).value).toBe(false);
    expect((await retryUnavailable(() => b.tickets.spend("jti-during", exp))).value).toBe(true);
    expect((await retryUnavailable(() => a.tickets.spend("jti-during", exp))).value).toBe(false);
  }, 120_000);

  it("the node comes back and catches up", async () => {
    await cluster.restart(0);
    const c = await openFabricState(settingsFor(cluster.urls[0]!, 3), log, { name: "state-c" });
    try {
      expect(await c.tickets.spend("jti-during", Date.now() + 1000)).toBe(false);
      expect(c.elections.current("single@fame.fabric")?.holder).toBe(
        a.elections.current("single@fame.fabric")?.holder,
      );
    } finally {
      await c.close();
    }
  });
});
