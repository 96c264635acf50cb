import { base64urlEncode } from "@fame/protocol";
import { sessionKey } from "@fame/sentinel";
import { describe, expect, it } from "vitest";
import { attachNode, nackOf, receiverOf, replicas } from "./affinity-helpers.js";
import { clusterSentinel, clusterState, MemoryHub, recordingLogger, until } from "./shared-state-helpers.js";

const DB = "db@fame.fabric";
const MATH = "math@fame.fabric";
const SINGLE = [{ address: DB, mode: "single-active" }];
const SESSIONS = [{ address: MATH, affinity: "session" }];

describe("single-active across two sentinels sharing one state", () => {
  it("exactly one member is active cluster-wide; the other sentinel refuses NOT_ACTIVE rather than elect its own", async () => {
    const hub = new MemoryHub();
    const stateA = clusterState(hub);
    const a = clusterSentinel("sa", stateA, SINGLE);
    const b = clusterSentinel("sb", clusterState(hub), SINGLE);
    const [r1] = await replicas(a.s, DB, ["r1"]);
    const [r2] = await replicas(b.s, DB, ["r2"]);
    // both sentinels try to claim for their own member at once: the store decides
    a.s.tickElections();
    b.s.tickElections();
    const store = stateA.fabric.elections;
    await until(() => store.current(DB) !== undefined);
    const holder = store.current(DB)!.holder;
    const [winner, loser] = holder === "r1" ? [a, b] : [b, a];
    const winnerReplica = holder === "r1" ? r1! : r2!;
    const cw = await attachNode(winner.s, "cw");
    const cl = await attachNode(loser.s, "cl");
    for (let i = 0; i < 5; i++) {
      await cw.call(DB, `w${i}`);
      await cl.call(DB, `l${i}`);
      winner.s.tickElections();
      loser.s.tickElections();
    }
    expect(winnerReplica.data().map((e) => e.corrId)).toEqual(["w0", "w1", "w2", "w3", "w4"]);
    // the loser's own replica never took a call: no split brain
    expect(receiverOf([r1!, r2!], "l0")).toBeUndefined();
    expect(nackOf(cl, "l4")?.code).toBe("NOT_ACTIVE");
    expect(store.current(DB)?.holder).toBe(holder);
  });

  it("the holder leaving releases the role at once; the other sentinel's member takes over", async () => {
    const hub = new MemoryHub();
    const stateA = clusterState(hub);
    const a = clusterSentinel("sa", stateA, SINGLE);
    const b = clusterSentinel("sb", clusterState(hub), SINGLE);
    const [r1] = await replicas(a.s, DB, ["r1"]);
    a.s.tickElections();
    await until(() => stateA.fabric.elections.current(DB)?.holder === "r1");
    const [r2] = await replicas(b.s, DB, ["r2"]);
    b.s.tickElections();
    expect(stateA.fabric.elections.current(DB)?.holder).toBe("r1");
    const epoch = stateA.fabric.elections.current(DB)!.epoch;
    // r1 detaches: its sentinel gives the lease up (no waiting for it to run out)
    a.s.close(r1!.session, "test");
    await until(() => stateA.fabric.elections.current(DB) === undefined);
    b.s.tickElections();
    await until(() => stateA.fabric.elections.current(DB)?.holder === "r2");
    expect(stateA.fabric.elections.current(DB)!.epoch).toBe(epoch + 1);
    const c = await attachNode(b.s, "c");
    await c.call(DB, "after");
    expect(r2!.data().map((e) => e.corrId)).toEqual(["after"]);
  });

  it("a holder's sentinel cut off from the state stops routing when its lease ends; the other takes over then", async () => {
    const hub = new MemoryHub();
    const stateA = clusterState(hub);
    const stateB = clusterState(hub);
    const a = clusterSentinel("sa", stateA, SINGLE);
    const b = clusterSentinel("sb", stateB, SINGLE);
    const [r1] = await replicas(a.s, DB, ["r1"]);
    a.s.tickElections();
    await until(() => stateB.fabric.elections.current(DB)?.holder === "r1");
    const [r2] = await replicas(b.s, DB, ["r2"]);
    const expiresAt = stateB.fabric.elections.current(DB)!.expiresAt;
    const ca = await attachNode(a.s, "ca");
    const cb = await attachNode(b.s, "cb");
    stateA.partition();
    // until the lease runs out r1 alone is active: A still routes to it, B still refuses
    await ca.call(DB, "during");
    await cb.call(DB, "during-b");
    expect(receiverOf([r1!], "during")).toBe("r1");
    expect(nackOf(cb, "during-b")?.code).toBe("NOT_ACTIVE");
    // A cannot renew; once the lease ends B's claim wins
    await until(() => {
      a.s.tickElections();
      b.s.tickElections();
      return stateB.fabric.elections.current(DB)?.holder === "r2";
    }, 6000);
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt);
    await ca.call(DB, "after-a");
    await cb.call(DB, "after-b");
    expect(nackOf(ca, "after-a")?.code).toBe("NOT_ACTIVE");
    expect(receiverOf([r1!, r2!], "after-b")).toBe("r2");
  });
});

describe("session placements shared by two sentinels", () => {
  it("a session's owner is the same at every sentinel: another client naming it gets session_not_owned", async () => {
    const hub = new MemoryHub();
    const stateA = clusterState(hub);
    const a = clusterSentinel("sa", stateA, SESSIONS);
    const b = clusterSentinel("sb", clusterState(hub), SESSIONS);
    const ra = await replicas(a.s, MATH, ["r1", "r2"]);
    await replicas(b.s, MATH, ["r3"]);
    const alice = await attachNode(a.s, "alice");
    await alice.call(MATH, "a1", { "session-id": "S" });
    const placedOn = receiverOf(ra, "a1");
    await until(() => stateA.fabric.sessions.get(sessionKey(MATH, "S")) !== undefined);
    expect(stateA.fabric.sessions.get(sessionKey(MATH, "S"))?.replicaSystemId).toBe(placedOn);
    const mallory = await attachNode(b.s, "mallory");
    await mallory.call(MATH, "m1", { "session-id": "S" });
    expect(nackOf(mallory, "m1")?.code).toBe("session_not_owned");
    // ending the session at its sentinel removes it cluster-wide
    await alice.call(MATH, "a2", { "session-id": "S", "session-end": true });
    await ra.find((r) => r.id === placedOn)!.answerLast();
    await until(() => stateA.fabric.sessions.get(sessionKey(MATH, "S")) === undefined);
  });
});

describe("a session forgotten by its sentinel", () => {
  it("leaves no record in the shared state once idle past its ttl everywhere", async () => {
    const state = clusterState(new MemoryHub());
    const { s, clock } = clusterSentinel("sa", state, [
      { address: MATH, affinity: "session", affinity_ttl_sec: 1 },
    ]);
    await replicas(s, MATH, ["r1"]);
    const c = await attachNode(s, "c");
    await c.call(MATH, "x1", { "session-id": "S" });
    const key = sessionKey(MATH, "S");
    await until(() => state.fabric.sessions.get(key) !== undefined);
    // nobody uses it for the ttl: the sentinel's sweep (the server runs it on a timer) forgets
    // it, and the record goes with it
    clock.advance(1500);
    s.sweep();
    await until(() => state.fabric.sessions.get(key) === undefined);
    const dist = (s.status()["distribution"] as { address: string; sessions: number }[]).find(
      (p) => p.address === MATH,
    );
    expect(dist?.sessions).toBe(0);
  });
});

describe("a session moved or ended through another sentinel", () => {
  it("is followed by the sentinel that holds it", async () => {
    const state = clusterState(new MemoryHub());
    const { s } = clusterSentinel("sa", state, SESSIONS);
    const rs = await replicas(s, MATH, ["r1", "r2"]);
    const c = await attachNode(s, "c");
    await c.call(MATH, "x1", { "session-id": "S" });
    const first = receiverOf(rs, "x1")!;
    const other = first === "r1" ? "r2" : "r1";
    const key = sessionKey(MATH, "S");
    await until(() => state.fabric.sessions.get(key) !== undefined);
    const owner = state.fabric.sessions.get(key)!.owner;
    // another sentinel moved it (its replica there had gone): this one follows
    await state.fabric.sessions.put(key, { replicaSystemId: other, owner, lastSeen: Date.now() });
    await c.call(MATH, "x2", { "session-id": "S" });
    expect(receiverOf(rs, "x2")).toBe(other);
    // another sentinel ended it: it is forgotten here too (placed afresh, counted as a miss)
    await state.fabric.sessions.delete(key);
    const dist = () =>
      (s.status()["distribution"] as { address: string; sessions: number }[]).find((p) => p.address === MATH);
    expect(dist()?.sessions).toBe(0);
  });
});

describe("partition: a sentinel cut off from the shared state", () => {
  it("refuses new channels and sessions with state_unavailable, keeps routing what it knows, and recovers", async () => {
    const state = clusterState(new MemoryHub());
    const { log, lines } = recordingLogger();
    const { s, shared } = clusterSentinel("sa", state, SESSIONS, log);
    const rs = await replicas(s, MATH, ["r1", "r2"]);
    const c = await attachNode(s, "c");
    await c.call(MATH, "before", { "session-id": "S1" });
    const holder = receiverOf(rs, "before");
    await until(() => state.fabric.sessions.get(sessionKey(MATH, "S1")) !== undefined);

    state.partition("nats: disconnected");
    const eph = base64urlEncode(new Uint8Array(32).fill(7));
    await c.send({
      to: MATH,
      corrId: "open1",
      frame: { type: "SecureOpen", cid: "cid-1", alg: "CHACHA20P1305", ephPub: eph },
    });
    expect(nackOf(c, "open1")?.code).toBe("state_unavailable");
    await c.call(MATH, "new-session", { "session-id": "S2" });
    expect(nackOf(c, "new-session")?.code).toBe("state_unavailable");
    // what the sentinel already knows keeps flowing: the known session, and unsessioned calls
    await c.call(MATH, "known", { "session-id": "S1" });
    expect(receiverOf(rs, "known")).toBe(holder);
    await c.call(MATH, "plain");
    expect(receiverOf(rs, "plain")).toBeDefined();
    expect(shared.refused).toMatchObject({ open: 1, session: 1 });
    expect(s.status()).toBeDefined();

    state.heal();
    await c.call(MATH, "after", { "session-id": "S2" });
    expect(receiverOf(rs, "after")).toBeDefined();
    await c.send({
      to: MATH,
      corrId: "open2",
      frame: { type: "SecureOpen", cid: "cid-2", alg: "CHACHA20P1305", ephPub: eph },
    });
    expect(nackOf(c, "open2")).toBeUndefined();
    expect(lines.filter((l) => l.msg.startsWith("shared state unavailable"))).toHaveLength(1);
    expect(lines.filter((l) => l.msg.startsWith("shared state available again"))).toHaveLength(1);
  });
});
