import { base64urlEncode } from "@fame/protocol";
import { AFTLoadBalancerStickinessManager, type PoolDistribution } from "@fame/sentinel";
import { describe, expect, it } from "vitest";
import { attachNode, Clock, makeSentinel, nackOf, receiverOf, replicas } from "./affinity-helpers.js";

const MATH = "math@fame.fabric";

function distribution(s: ReturnType<typeof makeSentinel>["s"], address: string): PoolDistribution {
  const d = (s.status()["distribution"] as PoolDistribution[]).find((p) => p.address === address);
  if (!d) throw new Error(`no distribution for ${address}`);
  return d;
}

describe("session affinity through the sentinel", () => {
  it("keeps each session on one replica and spreads two sessions over two replicas", async () => {
    const { s } = makeSentinel([{ address: MATH, affinity: "session", bounded_load_factor: 1.25 }]);
    const rs = await replicas(s, MATH, ["r1", "r2"]);
    const c1 = await attachNode(s, "c1");
    const c2 = await attachNode(s, "c2");
    const seen = { a: new Set<string>(), b: new Set<string>() };
    for (let i = 0; i < 10; i++) {
      await c1.call(MATH, `a${i}`, { "session-id": "session-a" });
      await c2.call(MATH, `b${i}`, { "session-id": "session-b" });
      seen.a.add(receiverOf(rs, `a${i}`)!);
      seen.b.add(receiverOf(rs, `b${i}`)!);
    }
    expect(seen.a.size).toBe(1);
    expect(seen.b.size).toBe(1);
    expect([...seen.a][0]).not.toBe([...seen.b][0]);
    const d = distribution(s, MATH);
    expect(d.counters).toMatchObject({ stickyHits: 18, stickyMisses: 2, stickyViolations: 0 });
    expect(d.replicas.map((r) => [r.id, r.sessions, r.requests])).toEqual([
      ["r1", 1, 10],
      ["r2", 1, 10],
    ]);
  });

  it("a late end never removes the session another client made again under the same id", async () => {
    const { s, clock } = makeSentinel([{ address: MATH, affinity: "session", affinity_ttl_sec: 1 }]);
    const rs = await replicas(s, MATH, ["r1"]);
    const [c, d] = [await attachNode(s, "c"), await attachNode(s, "d")];
    await c.call(MATH, "x1", { "session-id": "S" });
    await c.call(MATH, "x2", { "session-id": "S", "session-end": true });
    // c's session expires while its last call runs; d makes a session of the same name
    clock.advance(1500);
    await d.call(MATH, "d1", { "session-id": "S" });
    expect(distribution(s, MATH).sessions).toBe(1);
    // the answer to c's last call arrives: d's session stays
    const [r] = rs;
    await r!.send({
      to: `rpc@${c.session.path}`,
      corrId: "x2",
      frame: { type: "Data", codec: "json", payload: { jsonrpc: "2.0", id: "x2", result: "ok" } as never },
    });
    expect(c.data().at(-1)?.corrId).toBe("x2");
    expect(distribution(s, MATH).sessions).toBe(1);
    await c.call(MATH, "x3", { "session-id": "S" });
    expect(nackOf(c, "x3")?.code).toBe("session_not_owned");
  });

  it("ends a session once the replica answered its last call", async () => {
    const { s } = makeSentinel([{ address: MATH, affinity: "session" }]);
    const rs = await replicas(s, MATH, ["r1", "r2"]);
    const c = await attachNode(s, "c");
    await c.call(MATH, "x1", { "session-id": "S" });
    const holder = rs.find((r) => r.id === receiverOf(rs, "x1"))!;
    await c.call(MATH, "x2", { "session-id": "S", "session-end": true });
    expect(receiverOf(rs, "x2")).toBe(holder.id);
    // still counted while the last call runs
    expect(distribution(s, MATH).sessions).toBe(1);
    await holder.answerLast();
    expect(c.data().at(-1)?.corrId).toBe("x2");
    expect(distribution(s, MATH)).toMatchObject({ sessions: 0, counters: { ended: 1 } });
  });

  it("lands a session's SecureOpen on the session's replica", async () => {
    const { s } = makeSentinel([{ address: MATH, affinity: "session" }]);
    const rs = await replicas(s, MATH, ["r1", "r2", "r3"]);
    const c = await attachNode(s, "c");
    await c.call(MATH, "p1", { "session-id": "S1" });
    const holder = receiverOf(rs, "p1");
    const eph = base64urlEncode(new Uint8Array(32).fill(7));
    for (let i = 0; i < 3; i++) {
      await c.send({
        to: MATH,
        replyTo: `rpc@${c.session.path}`,
        corrId: `cid${i}`,
        meta: { "session-id": "S1" },
        frame: { type: "SecureOpen", cid: `cid${i}`, ephPub: eph, alg: "CHACHA20P1305" },
      });
      const opened = rs.find((r) => r.link.frames("SecureOpen").some((e) => e.corrId === `cid${i}`));
      expect(opened?.id).toBe(holder);
    }
  });

  it("refuses a malformed session id with bad_envelope", async () => {
    const { s } = makeSentinel([{ address: MATH, affinity: "session" }]);
    const rs = await replicas(s, MATH, ["r1"]);
    const c = await attachNode(s, "c");
    await c.call(MATH, "bad1", { "session-id": "x".repeat(129) });
    await c.call(MATH, "bad2", { "session-id": "has space" });
    await c.call(MATH, "bad3", { "session-id": "ok", "session-end": "maybe" });
    for (const id of ["bad1", "bad2", "bad3"]) expect(nackOf(c, id)?.code).toBe("bad_envelope");
    expect(rs[0]!.data()).toHaveLength(0);
  });

  it("a replica leaving moves only its sessions; others stay put", async () => {
    const { s } = makeSentinel([{ address: MATH, affinity: "session" }]);
    const rs = await replicas(s, MATH, ["r1", "r2", "r3"]);
    const c = await attachNode(s, "c");
    const where = new Map<string, string>();
    for (let i = 0; i < 12; i++) {
      await c.call(MATH, `first${i}`, { "session-id": `s${i}` });
      where.set(`s${i}`, receiverOf(rs, `first${i}`)!);
    }
    const gone = rs[1]!;
    s.close(gone.session, "test");
    for (let i = 0; i < 12; i++) {
      await c.call(MATH, `again${i}`, { "session-id": `s${i}` });
      const now = receiverOf(rs, `again${i}`);
      if (where.get(`s${i}`) === gone.id) expect(now).not.toBe(gone.id);
      else expect(now).toBe(where.get(`s${i}`));
    }
    const movedCount = [...where.values()].filter((r) => r === gone.id).length;
    expect(distribution(s, MATH).counters.stickyViolations).toBe(movedCount);
  });
});

describe("exclusive sessions", () => {
  const EXCL = "excl@fame.fabric";

  it("one session per replica, no_free_replica when all are taken, free again at the end", async () => {
    const { s } = makeSentinel([{ address: EXCL, affinity: "session", exclusive: true }]);
    const rs = await replicas(s, EXCL, ["r1", "r2"]);
    // three clients: one client alone may hold only its share of the replicas (I8)
    const [c, d, e] = [await attachNode(s, "c"), await attachNode(s, "d"), await attachNode(s, "e")];
    await c.call(EXCL, "a1", { "session-id": "A" });
    await d.call(EXCL, "b1", { "session-id": "B" });
    expect(receiverOf(rs, "a1")).not.toBe(receiverOf(rs, "b1"));
    await e.call(EXCL, "c1", { "session-id": "C" });
    expect(nackOf(e, "c1")).toMatchObject({ code: "no_free_replica" });
    expect(nackOf(e, "c1")?.reason).toMatch(
      /every replica of excl@fame.fabric \(2\) already holds a session/,
    );
    expect(e.link.frames("DeliveryAck").find((x) => x.corrId === "c1")?.meta).toEqual({ notExecuted: true });
    // A's calls keep their replica; a call without a session gets no replica that holds one
    await c.call(EXCL, "a2", { "session-id": "A" });
    expect(receiverOf(rs, "a2")).toBe(receiverOf(rs, "a1"));
    await c.call(EXCL, "plain");
    expect(receiverOf(rs, "plain")).toBeUndefined();
    expect(nackOf(c, "plain")?.code).toBe("no_free_replica");
    // a second session of c's: its share (one of two replicas) is taken
    await c.call(EXCL, "a3", { "session-id": "A-too" });
    expect(nackOf(c, "a3")?.code).toBe("too_many_client_sessions");
    // B ends: its replica takes C
    const bHolder = rs.find((r) => r.id === receiverOf(rs, "b1"))!;
    await d.call(EXCL, "b2", { "session-id": "B", "session-end": "true" });
    await bHolder.answerLast();
    await e.call(EXCL, "c2", { "session-id": "C" });
    expect(receiverOf(rs, "c2")).toBe(bHolder.id);
    expect(distribution(s, EXCL).counters).toMatchObject({ noFreeReplica: 2, ended: 1 });
  });

  it("sends calls without a session only to free replicas, never beside someone's session", async () => {
    const { s } = makeSentinel([{ address: EXCL, affinity: "session", exclusive: true }]);
    const rs = await replicas(s, EXCL, ["r1", "r2", "r3"]);
    const c = await attachNode(s, "c");
    await c.call(EXCL, "a1", { "session-id": "A" });
    const held = receiverOf(rs, "a1");
    const stranger = await attachNode(s, "stranger");
    for (let i = 0; i < 12; i++) await stranger.call(EXCL, `x${i}`);
    const served = Array.from({ length: 12 }, (_, i) => receiverOf(rs, `x${i}`));
    expect(served.every((r) => r !== undefined && r !== held)).toBe(true);
    // spread over the free ones
    expect(new Set(served).size).toBe(2);
  });

  it("a replica disconnecting frees its slot", async () => {
    const { s } = makeSentinel([{ address: EXCL, affinity: "session", exclusive: true }]);
    const rs = await replicas(s, EXCL, ["r1", "r2", "r3"]);
    const c = await attachNode(s, "c");
    for (const id of ["A", "B"]) await c.call(EXCL, id, { "session-id": id });
    const holderA = rs.find((r) => r.id === receiverOf(rs, "A"))!;
    s.close(holderA.session, "test");
    // A comes back and takes the only free replica; another client's D then finds none
    await c.call(EXCL, "A2", { "session-id": "A" });
    const a2 = receiverOf(rs, "A2");
    expect(a2).toBeDefined();
    expect(a2).not.toBe(holderA.id);
    expect(a2).not.toBe(receiverOf(rs, "B"));
    const d = await attachNode(s, "d");
    await d.call(EXCL, "D", { "session-id": "D" });
    expect(nackOf(d, "D")?.code).toBe("no_free_replica");
  });
});

describe("single-active pools", () => {
  const SOLO = "solo@fame.fabric";

  it("routes everything to the active replica and promotes the next one when it leaves", async () => {
    const { s } = makeSentinel([{ address: SOLO, mode: "single-active" }]);
    const rs = await replicas(s, SOLO, ["r1", "r2", "r3"]);
    const c = await attachNode(s, "c");
    for (let i = 0; i < 5; i++) {
      await c.call(SOLO, `x${i}`);
      expect(receiverOf(rs, `x${i}`)).toBe("r1");
    }
    // a call in flight on the active one fails fast when it dies, and the next call goes to r2
    await c.call(SOLO, "inflight");
    s.close(rs[0]!.session, "killed");
    expect(nackOf(c, "inflight")?.code).toBe("replica_unavailable");
    expect(distribution(s, SOLO).active).toBe("r2");
    await c.call(SOLO, "after");
    expect(receiverOf(rs, "after")).toBe("r2");
    expect(distribution(s, SOLO).counters.promotions).toBe(2);
    expect(distribution(s, SOLO).replicas.map((r) => [r.id, r.active])).toEqual([
      ["r2", true],
      ["r3", false],
    ]);
  });

  it("answers NOT_ACTIVE for a standby addressed directly and when no replica is left", async () => {
    const { s } = makeSentinel([{ address: SOLO, mode: "single-active" }]);
    const rs = await replicas(s, SOLO, ["r1", "r2"]);
    const c = await attachNode(s, "c");
    await c.call(SOLO, "warm");
    await c.call(`solo@${rs[1]!.session.path}`, "direct-standby");
    expect(nackOf(c, "direct-standby")).toMatchObject({ code: "NOT_ACTIVE" });
    expect(rs[1]!.data()).toHaveLength(0);
    await c.call(`solo@${rs[0]!.session.path}`, "direct-active");
    expect(receiverOf(rs, "direct-active")).toBe("r1");
    // replies to the client's own (physical) reply address are not affected
    await rs[0]!.answerLast();
    expect(c.data().at(-1)?.corrId).toBe("direct-active");
    s.close(rs[0]!.session, "gone");
    s.close(rs[1]!.session, "gone");
    await c.call(SOLO, "nobody");
    expect(nackOf(c, "nobody")).toMatchObject({ code: "NOT_ACTIVE" });
    expect(c.link.frames("DeliveryAck").find((e) => e.corrId === "nobody")?.meta).toEqual({
      notExecuted: true,
    });
  });

  it("hands the role over when the active replica drains", async () => {
    const { s } = makeSentinel([{ address: SOLO, mode: "single-active" }]);
    const rs = await replicas(s, SOLO, ["r1", "r2"]);
    const c = await attachNode(s, "c");
    await c.call(SOLO, "before");
    await rs[0]!.send({ frame: { type: "Drain" } });
    await c.call(SOLO, "after");
    expect([receiverOf(rs, "before"), receiverOf(rs, "after")]).toEqual(["r1", "r2"]);
  });
});

describe("draining with a grace period", () => {
  it("keeps existing sessions on a draining replica until the timeout, gives it no new ones", async () => {
    const { s, clock } = makeSentinel([{ address: MATH, affinity: "session", draining_timeout_sec: 10 }]);
    const rs = await replicas(s, MATH, ["r1", "r2"]);
    const c = await attachNode(s, "c");
    const sessions = ["s0", "s1", "s2", "s3", "s4", "s5"];
    for (const id of sessions) await c.call(MATH, `${id}-0`, { "session-id": id });
    const onR1 = sessions.filter((id) => receiverOf(rs, `${id}-0`) === "r1");
    expect(onR1.length).toBeGreaterThan(0);
    await rs[0]!.send({ frame: { type: "Drain" } });
    clock.advance(5000);
    for (const id of onR1) {
      await c.call(MATH, `${id}-1`, { "session-id": id });
      expect(receiverOf(rs, `${id}-1`)).toBe("r1");
    }
    for (let i = 0; i < 10; i++) {
      await c.call(MATH, `new${i}`, { "session-id": `new${i}` });
      expect(receiverOf(rs, `new${i}`)).toBe("r2");
    }
    clock.advance(6000);
    for (const id of onR1) {
      await c.call(MATH, `${id}-2`, { "session-id": id });
      expect(receiverOf(rs, `${id}-2`)).toBe("r2");
    }
    const d = distribution(s, MATH);
    expect(d.counters.stickyViolations).toBe(onR1.length);
    expect(d.replicas.find((r) => r.id === "r1")).toMatchObject({ draining: true, sessions: 0 });
  });

  it("moves a session's channel after the timeout: refused, re-opened on the session's new replica", async () => {
    const clock = new Clock();
    const stickiness = new AFTLoadBalancerStickinessManager(
      { securityLevel: "signed-optional" },
      { now: clock.now },
    );
    const { s } = makeSentinel(
      [{ address: MATH, affinity: "session", draining_timeout_sec: 10 }],
      clock,
      stickiness,
    );
    const rs = await replicas(s, MATH, ["r1", "r2"]);
    const c = await attachNode(s, "c");
    const replyTo = `rpc@${c.session.path}`;
    const ephPub = base64urlEncode(new Uint8Array(32).fill(9));
    const open = async (cid: string) => {
      await c.send({
        to: MATH,
        replyTo,
        corrId: cid,
        meta: { "session-id": "S" },
        frame: { type: "SecureOpen", cid, ephPub, alg: "CHACHA20P1305" },
      });
      const r = rs.find((n) => n.link.frames("SecureOpen").some((e) => e.corrId === cid));
      if (!r) throw new Error(`nobody got the open of ${cid}`);
      await r.send({ to: replyTo, corrId: cid, frame: { type: "SecureAccept", cid, ok: true, ephPub } });
      return r;
    };
    const sealed = (cid: string, seq: number) =>
      c.send({
        to: MATH,
        replyTo,
        corrId: `${cid}-${seq}`,
        meta: { "session-id": "S" },
        frame: { type: "Data", codec: "enc", ct: base64urlEncode(new Uint8Array(32)) },
        sec: { enc: { alg: "chacha20-poly1305-channel", cid, seq, kid: "k", ac: "AAAAAAAAAAA" } },
      });
    const home = await open("ch1");
    await sealed("ch1", 1);
    expect(receiverOf(rs, "ch1-1")).toBe(home.id);
    await home.send({ frame: { type: "Drain" } });
    clock.advance(5000);
    await sealed("ch1", 2);
    expect(receiverOf(rs, "ch1-2")).toBe(home.id);
    clock.advance(6000);
    await sealed("ch1", 3);
    expect(nackOf(c, "ch1-3")).toMatchObject({ code: "channel_unknown" });
    expect(receiverOf(rs, "ch1-3")).toBeUndefined();
    const next = await open("ch2");
    expect(next.id).not.toBe(home.id);
    await sealed("ch2", 1);
    expect(receiverOf(rs, "ch2-1")).toBe(next.id);
    const d = distribution(s, MATH);
    expect(d.counters.stickyViolations).toBe(1);
    const sessions = Object.fromEntries(d.replicas.map((r) => [r.id, r.sessions]));
    expect(sessions).toEqual({ [home.id]: 0, [next.id]: 1 });
  });

  it("lets the operator drain a node", async () => {
    const { s } = makeSentinel([{ address: MATH, affinity: "session", draining_timeout_sec: 0 }]);
    const rs = await replicas(s, MATH, ["r1", "r2"]);
    const c = await attachNode(s, "c");
    expect(s.drainNode("r1", "operator")).toBe(true);
    expect(s.drainNode("nobody", "operator")).toBe(false);
    for (let i = 0; i < 5; i++) {
      await c.call(MATH, `n${i}`, { "session-id": `n${i}` });
      expect(receiverOf(rs, `n${i}`)).toBe("r2");
    }
  });

  it("keeps an operator's drain when the node re-attaches, until it is resumed", async () => {
    // audit round 10: a drained node dropped its link, attached again and was eligible again
    const { s } = makeSentinel([{ address: MATH, affinity: "session", draining_timeout_sec: 0 }]);
    await replicas(s, MATH, ["r1", "r2"]);
    expect(s.drainNode("r1", "operator")).toBe(true);
    await replicas(s, MATH, ["r1"]); // the same system id, a new connection
    const draining = () =>
      (s.status()["nodes"] as { systemId: string; draining: boolean }[]).find((n) => n.systemId === "r1")
        ?.draining;
    expect(draining()).toBe(true);
    expect(s.resumeNode("r1")).toBe("resumed");
    expect(draining()).toBe(false);
    await replicas(s, MATH, ["r1"]);
    expect(draining()).toBe(false);
  });

  it("lets the operator resume a node it drained, not one draining itself", async () => {
    const { s } = makeSentinel([{ address: MATH, affinity: "session", draining_timeout_sec: 0 }]);
    const rs = await replicas(s, MATH, ["r1", "r2"]);
    const c = await attachNode(s, "c");
    expect(s.nodeDraining("r1")).toBe(false);
    expect(s.drainNode("r1", "operator")).toBe(true);
    expect(s.nodeDraining("r1")).toBe(true);
    expect(s.resumeNode("r1")).toBe("resumed");
    // once more: it was not draining (the operator's tools say so)
    expect(s.resumeNode("r1")).toBe("not_draining");
    expect(s.resumeNode("nobody")).toBe("unknown");
    expect(s.nodeDraining("nobody")).toBeUndefined();
    const placed = new Set<string>();
    for (let i = 0; i < 6; i++) {
      await c.call(MATH, `m${i}`, { "session-id": `m${i}` });
      placed.add(receiverOf(rs, `m${i}`)!);
    }
    expect(placed).toEqual(new Set(["r1", "r2"]));
    // r2 is shutting down (its own Drain frame): the operator cannot keep it serving
    await rs[1]!.send({ frame: { type: "Drain" } });
    expect(s.resumeNode("r2")).toBe("draining_itself");
    // an operator's drain after the node's own does not make it resumable either
    expect(s.drainNode("r2", "operator")).toBe(true);
    expect(s.resumeNode("r2")).toBe("draining_itself");
    expect(
      (s.status()["nodes"] as { systemId: string; draining: boolean }[]).find((n) => n.systemId === "r2"),
    ).toMatchObject({ draining: true });
  });
});

describe("app-level health checks", () => {
  const pools = [
    {
      address: MATH,
      affinity: "session",
      draining_timeout_sec: 0,
      health_check: { operation: "health", interval_sec: 1, timeout_ms: 500, unhealthy_threshold: 1 },
    },
  ];

  it("probes members from the sentinel, marks the silent one unhealthy and brings it back", async () => {
    const { s, clock } = makeSentinel(pools);
    const rs = await replicas(s, MATH, ["r1", "r2"]);
    const c = await attachNode(s, "c");
    s.tickHealth();
    for (const r of rs) {
      const probe = r.data().at(-1)!;
      expect(probe).toMatchObject({
        sid: "s0",
        to: MATH,
        replyTo: "health@/s0",
        frame: {
          type: "Data",
          codec: "json",
          payload: { jsonrpc: "2.0", id: probe.corrId, method: "health" },
        },
      });
    }
    await rs[0]!.answerLast({ ok: true });
    clock.advance(600);
    s.tickHealth();
    let d = distribution(s, MATH);
    expect(d.replicas.map((r) => [r.id, r.healthy, r.health?.passed, r.health?.failed])).toEqual([
      ["r1", true, 1, 0],
      ["r2", false, 0, 1],
    ]);
    for (let i = 0; i < 6; i++) {
      await c.call(MATH, `u${i}`, { "session-id": `u${i}` });
      expect(receiverOf(rs, `u${i}`)).toBe("r1");
    }
    // the next probe is answered: r2 takes new sessions again
    clock.advance(500);
    s.tickHealth();
    await rs[1]!.answerLast({ ok: true });
    d = distribution(s, MATH);
    expect(d.replicas.find((r) => r.id === "r2")?.healthy).toBe(true);
    const placed = new Set<string>();
    for (let i = 0; i < 6; i++) {
      await c.call(MATH, `v${i}`, { "session-id": `v${i}` });
      placed.add(receiverOf(rs, `v${i}`)!);
    }
    expect(placed.has("r2")).toBe(true);
  });

  it("counts an error answer as a failure and refuses answers to no probe", async () => {
    const { s } = makeSentinel(pools);
    const rs = await replicas(s, MATH, ["r1"]);
    const c = await attachNode(s, "c");
    s.tickHealth();
    const probe = rs[0]!.data().at(-1)!;
    await rs[0]!.send({
      to: "health@/s0",
      corrId: probe.corrId!,
      frame: {
        type: "Data",
        codec: "json",
        payload: { jsonrpc: "2.0", id: probe.corrId!, error: { code: -32601, message: "no health here" } },
      },
    });
    const r1 = distribution(s, MATH).replicas[0]!;
    expect(r1).toMatchObject({ healthy: false, health: { failed: 1, lastError: "no health here" } });
    // a client cannot forge an answer, nor can the replica answer twice
    await c.send({
      to: "health@/s0",
      corrId: probe.corrId!,
      frame: { type: "Data", codec: "json", payload: {} },
    });
    expect(nackOf(c, probe.corrId!)?.code).toBe("no_route");
  });
});

describe("app-level health checks: answers in one clear batch", () => {
  it("takes a node's answers to two probes in one batch, each for its own pool", async () => {
    const DB = "db@fame.fabric";
    const check = { operation: "health", interval_sec: 1, timeout_ms: 500, unhealthy_threshold: 1 };
    const { s, clock } = makeSentinel([
      { address: MATH, affinity: "session", draining_timeout_sec: 0, health_check: check },
      { address: DB, affinity: "session", draining_timeout_sec: 0, health_check: check },
    ]);
    const [r] = await replicas(s, MATH, ["r1"]);
    await r!.send({ frame: { type: "AddressBind", address: DB } });
    s.tickHealth();
    const probes = r!.data().filter((e) => e.replyTo === "health@/s0");
    expect(probes.map((p) => p.to).sort()).toEqual([DB, MATH]);
    await r!.send({
      to: "health@/s0",
      frame: {
        type: "Data",
        codec: "json",
        payload: probes.map((p) => ({ jsonrpc: "2.0", id: p.corrId!, result: { ok: true } })),
        batch: probes.map((p) => ({ corrId: p.corrId! })),
      },
    });
    clock.advance(600);
    s.tickHealth();
    for (const address of [MATH, DB])
      expect(distribution(s, address).replicas.map((x) => [x.id, x.healthy, x.health?.passed])).toEqual([
        ["r1", true, 1],
      ]);
  });
});

describe("GET /metrics text", () => {
  it("renders per-pool, per-replica families with HELP and TYPE lines", async () => {
    const { s } = makeSentinel([{ address: MATH, affinity: "session" }]);
    await replicas(s, MATH, ["r1", "r2"]);
    const c = await attachNode(s, "c");
    await c.call(MATH, "a", { "session-id": "A" });
    await c.call(MATH, "b", { "session-id": "A" });
    const text = s.metricsText();
    expect(text).toContain("# HELP fame_pool_requests_total ");
    expect(text).toContain("# TYPE fame_pool_requests_total counter");
    expect(text).toContain("# TYPE fame_pool_replica_sessions gauge");
    expect(text).toMatch(/^fame_pool_sticky_hits_total\{pool="math@fame\.fabric"\} 1$/m);
    expect(text).toMatch(/^fame_pool_sticky_misses_total\{pool="math@fame\.fabric"\} 1$/m);
    expect(text).toMatch(/^fame_pool_sticky_violations_total\{pool="math@fame\.fabric"\} 0$/m);
    const sessions = [
      ...text.matchAll(/^fame_pool_replica_sessions\{pool="math@fame\.fabric",replica="(r\d)"\} (\d+)$/gm),
    ];
    expect(sessions.map((m) => Number(m[2])).sort()).toEqual([0, 1]);
    const requests = [
      ...text.matchAll(/^fame_pool_requests_total\{pool="math@fame\.fabric",replica="r\d"\} (\d+)$/gm),
    ];
    expect(requests.map((m) => Number(m[1])).sort()).toEqual([0, 2]);
    expect(text).toMatch(/^fame_sentinel_events_total\{event="routed"\} 2$/m);
    // every sample line is `name{labels} value` and belongs to a declared family
    // (a histogram's lines are its name + _bucket/_sum/_count)
    const types = new Map(
      [...text.matchAll(/^# TYPE (\S+) (counter|gauge|histogram)$/gm)].map((m) => [m[1], m[2]]),
    );
    for (const line of text.trim().split("\n")) {
      if (line.startsWith("#")) continue;
      const m = /^([a-z_]+)(\{[^}]*\})? (-?[0-9.e+-]+|NaN|\+Inf)$/.exec(line);
      expect(m, line).not.toBeNull();
      const name = m![1]!;
      const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, "");
      expect(types.has(family), line).toBe(true);
      if (family !== name) expect(types.get(family), line).toBe("histogram");
    }
  });
});
