import { SessionTable } from "@fame/sentinel";
import { describe, expect, it } from "vitest";
import { Clock } from "./affinity-helpers.js";

function table(maxEntries = 100, ttlMs = 10_000) {
  const clock = new Clock();
  return { t: new SessionTable({ ttlMs, maxEntries, now: clock.now }), clock };
}

describe("SessionTable", () => {
  it("places, finds and counts sessions per replica", () => {
    const { t } = table();
    t.place("s1", "r1", "c1");
    t.place("s2", "r1", "c1");
    t.place("s3", "r2", "c1");
    expect(t.get("s1")?.replicaId).toBe("r1");
    expect(t.countFor("r1")).toBe(2);
    expect(t.countFor("r2")).toBe(1);
    expect(Object.fromEntries(t.perReplica())).toEqual({ r1: 2, r2: 1 });
    // moving a session updates both replicas' counts
    t.place("s1", "r2", "c1");
    expect([t.countFor("r1"), t.countFor("r2")]).toEqual([1, 2]);
    expect(t.sessionsOf("r2").sort()).toEqual(["s1", "s3"]);
  });

  it("forgets a session idle for the TTL, and a touch keeps it alive", () => {
    const { t, clock } = table(100, 10_000);
    const a = t.place("a", "r1", "c1");
    t.place("b", "r1", "c1");
    clock.advance(6000);
    t.touch(a);
    clock.advance(6000);
    // b idle 12 s (expired), a idle 6 s (alive)
    expect(t.get("b")).toBeUndefined();
    expect(t.get("a")?.replicaId).toBe("r1");
    expect(t.counts.expired).toBe(1);
    expect(t.countFor("r1")).toBe(1);
    clock.advance(10_000);
    expect(t.sweep()).toBe(1);
    expect(t.size).toBe(0);
    expect(t.countFor("r1")).toBe(0);
  });

  it("sweeps oldest first and stops at the first live session", () => {
    const { t, clock } = table(100, 1000);
    for (let i = 0; i < 5; i++) {
      t.place(`old${i}`, "r1", "c1");
    }
    clock.advance(2000);
    t.place("fresh", "r2", "c1");
    expect(t.sweep(3)).toBe(3);
    expect(t.sweep()).toBe(2);
    expect(t.size).toBe(1);
    expect(t.get("fresh")?.replicaId).toBe("r2");
  });

  it("is bounded: beyond maxEntries the least recently used session is evicted", () => {
    const { t, clock } = table(3);
    const a = t.place("a", "r1", "c1");
    clock.advance(1);
    t.place("b", "r1", "c1");
    clock.advance(1);
    t.place("c", "r2", "c1");
    clock.advance(1);
    t.touch(a); // b is now the least recently used
    t.place("d", "r2", "c1");
    expect(t.size).toBe(3);
    expect(t.get("b")).toBeUndefined();
    expect(t.get("a")?.replicaId).toBe("r1");
    expect(t.counts.evicted).toBe(1);
    expect(t.countFor("r1")).toBe(1);
    for (let i = 0; i < 50; i++) t.place(`x${i}`, "r3", "c1");
    expect(t.size).toBe(3);
  });

  it("a replica leaving orphans only its own sessions", () => {
    const { t } = table();
    for (let i = 0; i < 30; i++) t.place(`s${i}`, `r${i % 3}`, "c1");
    expect(t.removeReplica("r1")).toBe(10);
    expect(t.counts.orphaned).toBe(10);
    expect(t.countFor("r1")).toBe(0);
    for (let i = 0; i < 30; i++) {
      const e = t.get(`s${i}`);
      // still known (the next request places it again), but only r1's lost their replica
      expect(e).toBeDefined();
      expect(e?.replicaId).toBe(i % 3 === 1 ? undefined : `r${i % 3}`);
    }
    expect(t.removeReplica("r1")).toBe(0);
  });

  it("ends a session on request", () => {
    const { t } = table();
    t.place("s", "r1", "c1");
    expect(t.end("s")).toBe(true);
    expect(t.end("s")).toBe(false);
    expect(t.countFor("r1")).toBe(0);
    expect(t.counts.ended).toBe(1);
  });

  it("keeps each session's owner, and counts sessions per owner until they leave", () => {
    const { t, clock } = table(2);
    t.place("a", "r1", "alice");
    t.place("b", "r2", "alice");
    // moving a session keeps its owner
    t.place("a", "r2", "bob");
    expect(t.ownerOf("a")).toBe("alice");
    expect(t.heldBy("alice")).toBe(2);
    expect(t.heldBy("bob")).toBe(0);
    // eviction (maxEntries 2) and ending free the owner's count
    t.place("c", "r1", "bob");
    expect(t.heldBy("alice")).toBe(1);
    expect(t.heldBy("bob")).toBe(1);
    t.end("c");
    expect(t.heldBy("bob")).toBe(0);
    // an expired session has no owner any more (reading it does not expire it)
    clock.advance(10_000);
    expect(t.ownerOf("b")).toBeUndefined();
    expect(t.ownerOf("nope")).toBeUndefined();
  });

  it("refuses nonsensical bounds", () => {
    expect(() => new SessionTable({ ttlMs: 0, maxEntries: 1 })).toThrow(RangeError);
    expect(() => new SessionTable({ ttlMs: 1, maxEntries: 0 })).toThrow(RangeError);
  });

  it("counts sessions per principal across its processes, and reports the ones it drops", () => {
    const clock = new Clock();
    const dropped: string[] = [];
    const t = new SessionTable({
      ttlMs: 1000,
      maxEntries: 3,
      now: clock.now,
      onDropped: (id) => dropped.push(id),
    });
    t.place("a", "r1", "p\u0000i1");
    t.place("b", "r1", "p\u0000i2");
    t.place("c", "r2", "q\u0000i1");
    expect([t.heldBy("p\u0000i1"), t.heldByPrincipal("p"), t.heldByPrincipal("q")]).toEqual([1, 2, 1]);
    expect(t.capacity).toBe(3);
    // full: the least recently used goes, and is reported
    t.place("d", "r2", "q\u0000i1");
    expect(dropped).toEqual(["a"]);
    expect(t.heldByPrincipal("p")).toBe(1);
    // an ended session is not reported as dropped; an expired one is
    t.end("b");
    clock.advance(1000);
    t.sweep();
    expect(dropped).toEqual(["a", "c", "d"]);
    expect([t.heldByPrincipal("p"), t.heldByPrincipal("q"), t.size]).toEqual([0, 0, 0]);
  });
});
