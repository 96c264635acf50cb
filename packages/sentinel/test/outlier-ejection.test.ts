import {
  MANY_UNANSWERED,
  OutlierEjections,
  type PoolDistribution,
  PoolRouter,
  parsePoolPolicies,
  ReplicaPool,
  StallWatch,
  type WatchedCall,
} from "@fame/sentinel";
import { describe, expect, it } from "vitest";
import {
  attachNode,
  Clock,
  makeSentinel,
  nackOf,
  receiverOf,
  replicas,
  type TestNode,
} from "./affinity-helpers.js";
import { quietLogger } from "./fake-link.js";

/**
 * Audit round 8: a member of a single-active pool that answers the sentinel's health probes
 * and drops every client call kept the role for ever. The sentinel now watches the calls it
 * routes: a replica holding other principals' calls unanswered for `unanswered_sec`, answering
 * none of them meanwhile, is ejected for a while (the role moves), never as the last one.
 */
const LEDGER = "ledger@fame.fabric";
const MATH = "math@fame.fabric";

function distribution(s: ReturnType<typeof makeSentinel>["s"], address: string): PoolDistribution {
  const d = (s.status()["distribution"] as PoolDistribution[]).find((p) => p.address === address);
  if (!d) throw new Error(`no distribution for ${address}`);
  return d;
}

async function answer(replica: TestNode, corrId: string, more = false): Promise<void> {
  const req = replica.data().find((e) => e.corrId === corrId);
  if (!req?.replyTo) throw new Error(`${replica.id} got no ${corrId}`);
  await replica.send({
    to: req.replyTo,
    corrId,
    frame: { type: "Data", codec: "json", payload: { jsonrpc: "2.0", id: corrId, result: 1 } as never },
    ...(more ? { meta: { more: true } } : {}),
  });
}

const singleActive = (outlier: unknown = { unanswered_sec: 5, ejection_sec: 30 }) => [
  { address: LEDGER, mode: "single-active", outlier_detection: outlier },
];

describe("outlier ejection through the sentinel", () => {
  it("a single-active holder that leaves calls unanswered loses the role; the standby takes the calls", async () => {
    const { s, clock } = makeSentinel(singleActive());
    const [r1, r2] = await replicas(s, LEDGER, ["r1", "r2"]);
    const client = await attachNode(s, "c");
    await client.call(LEDGER, "a1");
    await client.call(LEDGER, "a2");
    expect(receiverOf([r1!, r2!], "a1")).toBe("r1");
    clock.advance(4_000);
    s.sweep();
    expect(distribution(s, LEDGER).active).toBe("r1");
    clock.advance(1_000);
    s.sweep();
    const d = distribution(s, LEDGER);
    expect(d.active).toBe("r2");
    expect(d.counters.ejections).toBe(1);
    // the calls it sat on are given up: their caller hears now, not at its timeouts
    for (const id of ["a1", "a2"]) {
      expect(nackOf(client, id)).toMatchObject({
        code: "replica_unavailable",
        reason: "replica r1 was ejected: it left calls unanswered",
      });
    }
    expect(s.inflight.size).toBe(0);
    const r1View = d.replicas.find((r) => r.id === "r1")!;
    expect(r1View.healthy).toBe(false);
    expect(r1View.ejectedUntil).toBe(clock.now() + 30_000);
    await client.call(LEDGER, "a3");
    expect(receiverOf([r1!, r2!], "a3")).toBe("r2");
    // the ejection ends: r1 takes work again, as a standby (the role stays where it is)
    clock.advance(30_000);
    s.sweep();
    const after = distribution(s, LEDGER);
    expect(after.replicas.find((r) => r.id === "r1")).toMatchObject({ healthy: true, active: false });
    expect(after.active).toBe("r2");
    expect(after.replicas.find((r) => r.id === "r1")?.ejectedUntil).toBeUndefined();
  });

  it("a replica answering its callers is not ejected, however long one slow call takes", async () => {
    const { s, clock } = makeSentinel(singleActive());
    const [r1] = await replicas(s, LEDGER, ["r1", "r2"]);
    const [slow, busy] = [await attachNode(s, "slow"), await attachNode(s, "busy")];
    // one call stays unanswered all along; the holder answers another client's every second
    await slow.call(LEDGER, "slow-1");
    for (let i = 0; i < 12; i++) {
      await busy.call(LEDGER, `b${i}`);
      await answer(r1!, `b${i}`);
      clock.advance(1_000);
      s.sweep();
    }
    expect(distribution(s, LEDGER).active).toBe("r1");
    expect(distribution(s, LEDGER).counters.ejections).toBe(0);
  });

  it("stream items count as answers; a frame naming no call of the client's does not", async () => {
    const { s, clock } = makeSentinel(singleActive());
    const [r1] = await replicas(s, LEDGER, ["r1", "r2"]);
    const client = await attachNode(s, "c");
    await client.call(LEDGER, "stream-1");
    for (let i = 0; i < 8; i++) {
      clock.advance(1_000);
      await answer(r1!, "stream-1", true);
      s.sweep();
    }
    expect(distribution(s, LEDGER).active).toBe("r1");
    await client.call(LEDGER, "dropped");
    // r1 keeps sending the client frames that answer nothing it asked
    for (let i = 0; i < 8; i++) {
      clock.advance(1_000);
      await r1!.send({
        to: `rpc@${client.session.path}`,
        corrId: `junk-${i}`,
        frame: {
          type: "Data",
          codec: "json",
          payload: { jsonrpc: "2.0", id: `junk-${i}`, result: 1 } as never,
        },
      });
      s.sweep();
    }
    expect(distribution(s, LEDGER).active).toBe("r2");
  });

  it("never ejects a pool's last eligible member", async () => {
    const { s, clock } = makeSentinel(singleActive());
    await replicas(s, LEDGER, ["r1"]);
    const client = await attachNode(s, "c");
    await client.call(LEDGER, "x");
    clock.advance(60_000);
    s.sweep();
    const d = distribution(s, LEDGER);
    expect(d.active).toBe("r1");
    expect(d.counters.ejections).toBe(0);
  });

  it("an ejection outlives the replica's departure and return; a health pass does not end it", async () => {
    const { s, clock } = makeSentinel(singleActive());
    const [r1] = await replicas(s, LEDGER, ["r1", "r2"]);
    const client = await attachNode(s, "c");
    await client.call(LEDGER, "x");
    clock.advance(5_000);
    s.sweep();
    expect(distribution(s, LEDGER).active).toBe("r2");
    // r1 unbinds and binds again: still ejected
    await r1!.send({ frame: { type: "AddressUnbind", address: LEDGER } });
    await r1!.send({ frame: { type: "AddressBind", address: LEDGER } });
    expect(distribution(s, LEDGER).replicas.find((r) => r.id === "r1")).toMatchObject({ healthy: false });
    await client.call(LEDGER, "y");
    expect(receiverOf([r1!], "y")).toBeUndefined();
  });

  it("multi-active pools: calls go to the other members while one is ejected", async () => {
    const { s, clock } = makeSentinel([{ address: MATH, outlier_detection: { unanswered_sec: 2 } }]);
    const rs = await replicas(s, MATH, ["m1", "m2", "m3"]);
    const client = await attachNode(s, "c");
    // round robin: m1 gets the first call and never answers; m2 and m3 answer theirs
    for (const id of ["k1", "k2", "k3"]) await client.call(MATH, id);
    const dropper = receiverOf(rs, "k1")!;
    for (const id of ["k2", "k3"]) {
      const r = rs.find((n) => n.id === receiverOf(rs, id))!;
      await answer(r, id);
    }
    clock.advance(2_000);
    s.sweep();
    expect(distribution(s, MATH).replicas.find((r) => r.id === dropper)?.ejectedUntil).toBeDefined();
    for (let i = 0; i < 6; i++) await client.call(MATH, `n${i}`);
    for (let i = 0; i < 6; i++) expect(receiverOf(rs, `n${i}`)).not.toBe(dropper);
  });

  it("outlier_detection: false turns it off", async () => {
    const { s, clock } = makeSentinel(singleActive(false));
    await replicas(s, LEDGER, ["r1", "r2"]);
    const client = await attachNode(s, "c");
    await client.call(LEDGER, "x");
    // well past the default's 30 s (and short of the heartbeat limit, 180 s here)
    clock.advance(100_000);
    s.sweep();
    expect(distribution(s, LEDGER).active).toBe("r1");
  });
});

describe("StallWatch", () => {
  const call = (): WatchedCall => ({});

  it("a member is stalled once a call went unheard for the limit with no answer meanwhile", () => {
    const clock = new Clock();
    const w = new StallWatch(clock.now);
    const rec = w.recordOf("a@x", "r1");
    const [c1, c2] = [call(), call()];
    w.add(rec, c1);
    clock.advance(500);
    w.add(rec, c2);
    clock.advance(900);
    w.answered(c2); // an answer to another call: not stalled for c1's sake yet
    w.settled(c2);
    clock.advance(100);
    expect(w.stalled(() => 1000)).toEqual([]);
    clock.advance(900);
    expect(w.stalled(() => 1000).map((r) => r.replicaId)).toEqual(["r1"]);
    // the call leaves (expired, or its caller left): nothing held, record gone
    w.settled(c1);
    expect(w.stalled(() => 1000)).toEqual([]);
    expect(w.size).toBe(0);
  });

  it("many unheard calls mark a member stalled even while it answers (or refuses) others", () => {
    // audit round 10: a holder whose slots its dropped calls filled answered every new call with
    // too_many_inflight, and each refusal counted as an answer
    const clock = new Clock();
    const w = new StallWatch(clock.now);
    const rec = w.recordOf("a@x", "r1");
    for (let i = 0; i < MANY_UNANSWERED; i++) w.add(rec, call());
    clock.advance(1000);
    const refused = call();
    w.add(rec, refused);
    w.answered(refused);
    w.settled(refused);
    expect(w.stalled(() => 1000).map((r) => r.replicaId)).toEqual(["r1"]);
  });

  it("a stream that sent an item is served, at its caller's pace; a call that expires early never counts", () => {
    const clock = new Clock();
    const w = new StallWatch(clock.now);
    const rec = w.recordOf("a@x", "r1");
    const streaming = call();
    w.add(rec, streaming);
    clock.advance(800);
    w.progressed(streaming);
    // its caller holds its credit back (or reads slowly): the replica waits, and is not stalled
    // (review of audit round 11: eight such streams got an honest replica ejected)
    const held = Array.from({ length: MANY_UNANSWERED }, () => call());
    for (const c of held) {
      w.add(rec, c);
      w.progressed(c);
    }
    clock.advance(60_000);
    expect(w.stalled(() => 1000)).toEqual([]);
    // audit round 10: calls with a 100 ms deadline, answered late, once a second
    const w2 = new StallWatch(clock.now);
    const rec2 = w2.recordOf("a@x", "r2");
    for (let t = 0; t < 10; t++) {
      const short = call();
      w2.add(rec2, short);
      clock.advance(100);
      w2.settled(short); // the sweep dropped it at its deadline
      clock.advance(900);
      expect(w2.stalled(() => 1000)).toEqual([]);
    }
  });

  it("keeps a record per pool, judged by that pool's limit", () => {
    const clock = new Clock();
    const w = new StallWatch(clock.now);
    w.add(w.recordOf("fast@x", "r1"), call());
    w.add(w.recordOf("slow@x", "r1"), call());
    clock.advance(5000);
    const limits: Record<string, number> = { "fast@x": 3000, "slow@x": 86_400_000 };
    expect(w.stalled((a) => limits[a]).map((r) => r.address)).toEqual(["fast@x"]);
  });

  it("forget: the calls held now no longer count, even as they settle", () => {
    const clock = new Clock();
    const w = new StallWatch(clock.now);
    const old = call();
    w.add(w.recordOf("a@x", "r1"), old);
    w.forget("a@x", "r1");
    const fresh = call();
    const rec = w.recordOf("a@x", "r1");
    w.add(rec, fresh);
    w.settled(old);
    expect(rec.calls.size).toBe(1);
    expect(w.stalled(() => undefined)).toEqual([]);
  });
});

describe("OutlierEjections", () => {
  it("doubles the length of repeated ejections up to 10×, and forgets strikes after an hour", () => {
    const clock = new Clock();
    const e = new OutlierEjections(clock.now);
    const lengths: number[] = [];
    for (let i = 0; i < 6; i++) {
      const rec = e.eject("a@x", "r1", 1000);
      lengths.push(rec.until - clock.now());
      clock.advance(rec.until - clock.now());
      expect(e.ended().map((r) => r.nodeId)).toEqual(["r1"]);
      expect(e.isEjected("a@x", "r1")).toBe(false);
    }
    expect(lengths).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
    clock.advance(60 * 60_000 + 1);
    expect(e.eject("a@x", "r1", 1000).until - clock.now()).toBe(1000);
    expect(e.ejectedUntil("a@x", "r1")).toBe(clock.now() + 1000);
    expect(e.ejectedUntil("b@x", "r1")).toBeUndefined();
  });
});

describe("answers the caller makes undeliverable (audit round 13)", () => {
  it("an answer at the reply address its caller named is delivered and counted, though that address is a standby's", async () => {
    const { s, clock } = makeSentinel([
      { address: MATH, outlier_detection: { unanswered_sec: 5, ejection_sec: 30 } },
      { address: LEDGER, mode: "single-active" },
    ]);
    const members = await replicas(s, MATH, ["m1", "m2"]);
    await replicas(s, LEDGER, ["l1"]);
    const other = await attachNode(s, "other");
    await other.call(LEDGER, "elects-l1");
    // the caller is a standby of LEDGER: calls to ledger@<its path> are refused NOT_ACTIVE
    const caller = await attachNode(s, "caller", ["*.fame.fabric"]);
    await caller.send({ frame: { type: "AddressBind", address: LEDGER } });
    expect(distribution(s, LEDGER).active).toBe("l1");
    const replyTo = `ledger@${caller.session.path}`;
    for (let i = 0; i < 8; i++)
      await caller.send({
        to: MATH,
        replyTo,
        corrId: `c${i}`,
        frame: { type: "Data", codec: "json", payload: { jsonrpc: "2.0", id: `c${i}`, method: "add" } },
      });
    for (const m of members)
      for (const req of m.data())
        await m.send({
          to: req.replyTo!,
          corrId: req.corrId!,
          frame: {
            type: "Data",
            codec: "json",
            payload: { jsonrpc: "2.0", id: req.corrId!, result: 1 } as never,
          },
        });
    expect(
      caller
        .data()
        .map((e) => e.corrId)
        .sort(),
    ).toEqual(["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"]);
    expect(s.inflight.size).toBe(1); // other's call to l1, not answered here
    clock.advance(10_000);
    s.sweep();
    expect(distribution(s, MATH).counters.ejections).toBe(0);
    // a call to the standby's address is refused as ever
    await other.call(replyTo, "x");
    expect(nackOf(other, "x")?.code).toBe("NOT_ACTIVE");
  });
});

describe("a caller that leaves (audit round 12)", () => {
  it("its replicas are told which of their calls nobody waits for any more", async () => {
    const { s } = makeSentinel([{ address: MATH }]);
    const [r1] = await replicas(s, MATH, ["r1"]);
    const client = await attachNode(s, "c");
    await client.call(MATH, "c1");
    await client.call(MATH, "c2");
    await answer(r1!, "c1");
    const other = await attachNode(s, "o");
    await other.call(MATH, "o1");
    s.close(client.session, "test");
    const gone = r1!.link
      .frames("DeliveryAck")
      .filter((e) => (e.frame as { code?: string }).code === "caller_gone");
    expect(gone.map((e) => e.corrId)).toEqual(["c2"]);
    expect(gone[0]!.meta).toEqual({ callerSid: client.session.sid });
    expect(gone[0]!.sid).not.toBe(client.session.sid);
    // the other caller's call is in flight as before
    expect(s.inflight.countFor("o")).toBe(1);
  });
});

describe("an ejection another sentinel made (audit round 11)", () => {
  it("keeps the member out when it re-attaches here, until that ejection ends; strikes carry on", async () => {
    const { s, clock } = makeSentinel(singleActive());
    const reported: string[] = [];
    s.ejectionReporter = (address, id, forMs, strikes) =>
      reported.push(`${address} ${id} ${forMs} ${strikes}`);
    // sentinel sb ejected r1 (attached there) for 30 s more, its 2nd strike
    s.rememberEjection(LEDGER, "r1", 30_000, 2);
    s.rememberEjection("other@fame.fabric", "r1", 30_000, 2); // a pool without a policy here: nothing
    const [r1, r2] = await replicas(s, LEDGER, ["r1", "r2"]);
    const d = distribution(s, LEDGER);
    expect(d.replicas.find((r) => r.id === "r1")).toMatchObject({
      healthy: false,
      ejectedUntil: clock.now() + 30_000,
    });
    const client = await attachNode(s, "c");
    await client.call(LEDGER, "x");
    expect(receiverOf([r1!, r2!], "x")).toBe("r2");
    expect(distribution(s, LEDGER).active).toBe("r2");
    await answer(r2!, "x");
    clock.advance(30_001);
    s.sweep();
    expect(distribution(s, LEDGER).replicas.find((r) => r.id === "r1")).toMatchObject({ healthy: true });
    expect(reported).toEqual([]); // only a cluster's sentinels are told
    // the word comes after r1 bound here: out at once (never the last eligible member)
    s.rememberEjection(LEDGER, "r1", 30_000, 3);
    expect(distribution(s, LEDGER).replicas.find((r) => r.id === "r1")).toMatchObject({ healthy: false });
    await client.call(LEDGER, "after");
    expect(receiverOf([r1!, r2!], "after")).toBe("r2");
    await r2!.send({ frame: { type: "AddressUnbind", address: LEDGER } });
    s.rememberEjection(LEDGER, "r9", 30_000, 1); // no such member: remembered only
    clock.advance(30_001);
    s.sweep();
    await r2!.send({ frame: { type: "AddressBind", address: LEDGER } });
    s.rememberEjection(LEDGER, "r2", 30_000, 1); // r1 is back: r2 may go
    expect(distribution(s, LEDGER).replicas.find((r) => r.id === "r2")).toMatchObject({ healthy: false });
  });

  it("an ejection remembered from another sentinel keeps its strikes: the next one here is longer", () => {
    const clock = new Clock();
    const e = new OutlierEjections(clock.now);
    e.remember("a@x", "r1", 2000, 2);
    e.remember("a@x", "r1", 500, 1); // an older word: the longer end and higher count stay
    expect(e.ejectedUntil("a@x", "r1")).toBe(clock.now() + 2000);
    clock.advance(2000);
    expect(e.ended().map((r) => r.nodeId)).toEqual(["r1"]);
    expect(e.eject("a@x", "r1", 1000).strikes).toBe(3);
    expect(e.ejectedUntil("a@x", "r1")).toBe(clock.now() + 4000);
  });
});

describe("a stall another sentinel reports", () => {
  it("ejects the member attached here, as if seen here (never the last eligible one)", () => {
    const pool = new ReplicaPool<{ id: string }>();
    pool.add({ id: "r1" });
    const router = new PoolRouter<{ id: string }>(
      parsePoolPolicies([{ address: LEDGER, mode: "single-active" }]),
      {
        log: quietLogger,
        resolve: () => pool,
        sentinelId: "s0",
      },
    );
    router.ejectReported(LEDGER, "r1", "sb");
    expect(pool.isEligible("r1")).toBe(true); // alone: kept
    pool.add({ id: "r2" });
    router.ejectReported(LEDGER, "r1", "sb");
    expect(pool.isEligible("r1")).toBe(false);
    expect(router.snapshot()[0]?.counters.ejections).toBe(1);
  });
});

describe("PoolRouter.watchCalls", () => {
  it("calls between nodes of one principal are not watched; pools default to watching", () => {
    const pool = new ReplicaPool<{ id: string }>();
    pool.add({ id: "r1" });
    const router = new PoolRouter<{ id: string }>(
      parsePoolPolicies([{ address: LEDGER, mode: "single-active", outlier_detection: false }]),
      { log: quietLogger, resolve: () => pool, sentinelId: "s0" },
    );
    expect(router.watchCalls(MATH, "r1", "agents", "agents")).toBeUndefined();
    expect(router.watchCalls(MATH, "r1", "agents", "callers")?.replicaId).toBe("r1");
    expect(router.watchCalls(LEDGER, "r1", "agents", "callers")).toBeUndefined();
  });
});
