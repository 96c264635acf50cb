import {
  ActiveElection,
  placeExclusiveSession,
  placeSession,
  ReplicaPool,
  SessionTable,
  sessionCap,
} from "@fame/sentinel";
import { describe, expect, it } from "vitest";

type N = { id: string };

function pool(ids: string[]): ReplicaPool<N> {
  const p = new ReplicaPool<N>();
  for (const id of ids) p.add({ id });
  return p;
}

describe("bounded-load session placement", () => {
  it("caps at max(ceil(avg), floor(factor × avg)) counting the new session", () => {
    expect(sessionCap(0, 2, 1.25)).toBe(1);
    // two replicas, one session placed: the second must go elsewhere for any factor < 2
    expect(sessionCap(1, 2, 1.25)).toBe(1);
    expect(sessionCap(1, 2, 1.99)).toBe(1);
    expect(sessionCap(1, 2, 2)).toBe(2);
    expect(sessionCap(2, 2, 1.25)).toBe(2);
    expect(sessionCap(99, 4, 1.25)).toBe(31);
  });

  it("puts the second session of two replicas on the other one, whatever the ids", () => {
    for (let i = 0; i < 200; i++) {
      const p = pool(["replica-a", "replica-b"]);
      const t = new SessionTable({ ttlMs: 60_000, maxEntries: 100 });
      const first = placeSession(`client-1-${i}`, p, (id) => t.countFor(id), 1.25);
      t.place(`client-1-${i}`, first!.id, "c1");
      const second = placeSession(`client-2-${i}`, p, (id) => t.countFor(id), 1.25);
      expect(second?.id).not.toBe(first?.id);
    }
  });

  it("keeps loads within the cap and spreads many sessions evenly", () => {
    const p = pool(["r0", "r1", "r2", "r3"]);
    const t = new SessionTable({ ttlMs: 60_000, maxEntries: 10_000 });
    for (let i = 0; i < 400; i++) {
      const node = placeSession(`s${i}`, p, (id) => t.countFor(id), 1.25);
      t.place(`s${i}`, node!.id, "c1");
    }
    for (const id of ["r0", "r1", "r2", "r3"]) {
      expect(t.countFor(id)).toBeLessThanOrEqual(Math.floor(1.25 * 100));
      expect(t.countFor(id)).toBeGreaterThan(50);
    }
  });

  it("is stable: a replica leaving moves only the sessions it held", () => {
    const p = pool(["r0", "r1", "r2"]);
    const t = new SessionTable({ ttlMs: 60_000, maxEntries: 10_000 });
    const place = (s: string) => {
      const e = t.get(s);
      if (e?.replicaId !== undefined && p.has(e.replicaId)) return e.replicaId;
      const node = placeSession(s, p, (id) => t.countFor(id), 1.25)!;
      t.place(s, node.id, "c1");
      return node.id;
    };
    const before = new Map<string, string>();
    for (let i = 0; i < 300; i++) before.set(`s${i}`, place(`s${i}`));
    p.remove("r1");
    t.removeReplica("r1");
    let moved = 0;
    for (const [s, was] of before) {
      const now = place(s);
      if (was === "r1") {
        moved++;
        expect(now).not.toBe("r1");
      } else {
        expect(now).toBe(was);
      }
    }
    expect(moved).toBe([...before.values()].filter((r) => r === "r1").length);
    expect(moved).toBeGreaterThan(0);
  });

  it("never places a session on a draining or unhealthy replica", () => {
    const p = pool(["r0", "r1", "r2"]);
    p.setDraining("r0", true);
    p.setHealthy("r1", false);
    for (let i = 0; i < 50; i++) expect(placeSession(`s${i}`, p, () => 0, 1.25)?.id).toBe("r2");
    p.setDraining("r2", true);
    expect(placeSession("x", p, () => 0, 1.25)).toBeUndefined();
    expect(() => placeSession("x", p, () => 0, 0.5)).toThrow(RangeError);
  });
});

describe("exclusive placement", () => {
  it("gives each replica at most one session and says when none is free", () => {
    const p = pool(["r0", "r1", "r2"]);
    const t = new SessionTable({ ttlMs: 60_000, maxEntries: 100 });
    const got = new Set<string>();
    for (const s of ["a", "b", "c"]) {
      const node = placeExclusiveSession(s, p, (id) => t.countFor(id));
      expect(node).toBeDefined();
      got.add(node!.id);
      t.place(s, node!.id, "c1");
    }
    expect(got).toEqual(new Set(["r0", "r1", "r2"]));
    expect(placeExclusiveSession("d", p, (id) => t.countFor(id))).toBeUndefined();
    // a session ends: exactly its replica is free again
    const freed = t.get("b")!.replicaId!;
    t.end("b");
    expect(placeExclusiveSession("d", p, (id) => t.countFor(id))?.id).toBe(freed);
  });
});

describe("single-active election", () => {
  it("elects the earliest-bound eligible member and keeps it while it stays eligible", () => {
    const p = pool(["r0", "r1", "r2"]);
    const e = new ActiveElection();
    expect(e.elect("a@x.y", p)).toMatchObject({ node: { id: "r0" }, promoted: true });
    expect(e.elect("a@x.y", p)).toMatchObject({ node: { id: "r0" }, promoted: false });
    // the active one dies: the next in bind order is promoted
    p.remove("r0");
    expect(e.elect("a@x.y", p)).toMatchObject({ node: { id: "r1" }, promoted: true, previous: "r0" });
    // a member that joins later does not take over
    p.add({ id: "r0" });
    expect(e.elect("a@x.y", p).node?.id).toBe("r1");
    // draining (or unhealthy) counts as gone for the role
    p.setDraining("r1", true);
    expect(e.elect("a@x.y", p).node?.id).toBe("r2");
    p.setDraining("r1", false);
    expect(e.elect("a@x.y", p).node?.id).toBe("r2");
    p.setHealthy("r2", false);
    expect(e.elect("a@x.y", p).node?.id).toBe("r1");
    expect(e.activeOf("a@x.y")).toBe("r1");
  });

  it("has no active member when none is eligible", () => {
    const p = pool(["r0"]);
    const e = new ActiveElection();
    p.setHealthy("r0", false);
    expect(e.elect("a@x.y", p)).toMatchObject({ node: undefined, promoted: false });
    expect(e.elect("a@x.y", undefined).node).toBeUndefined();
    expect(e.activeOf("a@x.y")).toBeUndefined();
  });
});
