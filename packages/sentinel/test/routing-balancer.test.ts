import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  createLoadBalancer,
  hrwRank,
  LOAD_BALANCER_NAMES,
  type LoadBalancerName,
  pickHrw,
  pickHrwBounded,
  ReplicaPool,
} from "../src/routing/index.js";

interface Node {
  id: string;
}

/** mulberry32: a tiny seeded generator so distribution tests are deterministic. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function poolOf(count: number, prefix = "r"): ReplicaPool<Node> {
  const pool = new ReplicaPool<Node>();
  for (let i = 0; i < count; i++) pool.add({ id: `${prefix}${i}` });
  return pool;
}

function tally(pick: () => Node | undefined, times: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < times; i++) {
    const id = pick()?.id ?? "(none)";
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

describe("createLoadBalancer", () => {
  it("refuses an unknown strategy by name", () => {
    expect(() => createLoadBalancer("weighted" as LoadBalancerName)).toThrow(/"weighted"/);
  });

  it("every strategy returns undefined for empty and all-draining pools", () => {
    for (const name of LOAD_BALANCER_NAMES) {
      const lb = createLoadBalancer<Node>(name, { random: seeded(1) });
      expect(lb.name).toBe(name);
      expect(lb.pick(new ReplicaPool<Node>(), "k")).toBeUndefined();
      const pool = poolOf(3);
      pool.setDraining("r0", true);
      pool.setDraining("r1", true);
      pool.setHealthy("r2", false);
      expect(lb.pick(pool, "k")).toBeUndefined();
      expect(lb.pick(pool)).toBeUndefined();
    }
  });

  it("no strategy ever picks a draining or unhealthy member", () => {
    for (const name of LOAD_BALANCER_NAMES) {
      const lb = createLoadBalancer<Node>(name, { random: seeded(2) });
      const pool = poolOf(6);
      pool.setDraining("r1", true);
      pool.setHealthy("r4", false);
      const counts = tally(() => lb.pick(pool, `k${Math.floor(Math.random() * 1e6)}`), 3000);
      expect(counts.has("r1")).toBe(false);
      expect(counts.has("r4")).toBe(false);
      expect(counts.has("(none)")).toBe(false);
    }
  });

  it("property: picks are eligible members, undefined only when none are eligible", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("add" as const), id: fc.integer({ min: 0, max: 11 }) }),
      fc.record({ kind: fc.constant("remove" as const), id: fc.integer({ min: 0, max: 11 }) }),
      fc.record({
        kind: fc.constant("drain" as const),
        id: fc.integer({ min: 0, max: 11 }),
        on: fc.boolean(),
      }),
      fc.record({ kind: fc.constant("pick" as const), key: fc.option(fc.string({ maxLength: 8 })) }),
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...LOAD_BALANCER_NAMES),
        fc.array(op, { maxLength: 60 }),
        fc.integer(),
        (name, ops, seed) => {
          const lb = createLoadBalancer<Node>(name, { random: seeded(seed) });
          const pool = new ReplicaPool<Node>();
          for (const o of ops) {
            if (o.kind === "add") pool.add({ id: `n${o.id}` });
            else if (o.kind === "remove") pool.remove(`n${o.id}`);
            else if (o.kind === "drain") pool.setDraining(`n${o.id}`, o.on);
            else {
              const picked = lb.pick(pool, o.key ?? undefined);
              if (pool.eligibleCount === 0) expect(picked).toBeUndefined();
              else expect(picked !== undefined && pool.isEligible(picked.id)).toBe(true);
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("round_robin", () => {
  it("is exactly even over N·k picks, in insertion order", () => {
    const pool = poolOf(7);
    const lb = createLoadBalancer<Node>("round_robin");
    expect([0, 1, 2, 3, 4, 5, 6, 7].map(() => lb.pick(pool)?.id)).toEqual([
      "r0",
      "r1",
      "r2",
      "r3",
      "r4",
      "r5",
      "r6",
      "r0",
    ]);
    const counts = tally(() => lb.pick(pool), 7 * 1000);
    for (let i = 0; i < 7; i++) expect(counts.get(`r${i}`)).toBe(1000);
  });

  it("stays exactly even among the remaining members after removals and draining", () => {
    const pool = poolOf(30);
    const lb = createLoadBalancer<Node>("round_robin");
    for (let i = 0; i < 13; i++) lb.pick(pool);
    for (let i = 0; i < 30; i += 3) pool.remove(`r${i}`);
    pool.setDraining("r1", true);
    const eligible = [...pool.eligibleMembers()].map((m) => m.node.id);
    expect(eligible).toHaveLength(19);
    const counts = tally(() => lb.pick(pool), 19 * 50);
    expect([...counts.keys()].sort()).toEqual([...eligible].sort());
    for (const id of eligible) expect(counts.get(id)).toBe(50);
  });
});

describe("random", () => {
  it("spreads 10 000 picks evenly (seeded), also with holes and draining members", () => {
    const pool = poolOf(12);
    for (const id of ["r0", "r3", "r6", "r9"]) pool.remove(id);
    pool.setDraining("r1", true);
    pool.setDraining("r2", true);
    const lb = createLoadBalancer<Node>("random", { random: seeded(42) });
    const counts = tally(() => lb.pick(pool), 10_000);
    expect(counts.size).toBe(6);
    // Expected 1667 each with σ ≈ 37; ±10 % is more than 4σ.
    for (const c of counts.values()) expect(Math.abs(c - 10_000 / 6)).toBeLessThan(167);
  });
});

describe("least_inflight", () => {
  it("is roughly uniform when loads are equal", () => {
    const pool = poolOf(5);
    const lb = createLoadBalancer<Node>("least_inflight", { random: seeded(7) });
    const counts = tally(() => lb.pick(pool), 10_000);
    for (const c of counts.values()) expect(Math.abs(c - 2000)).toBeLessThan(200);
  });

  it("never picks the most loaded member while others are less loaded", () => {
    const pool = poolOf(4);
    for (let i = 0; i < 50; i++) pool.acquire("r2");
    const lb = createLoadBalancer<Node>("least_inflight", { random: seeded(9) });
    const counts = tally(() => lb.pick(pool), 5000);
    expect(counts.has("r2")).toBe(false);
  });

  it("keeps loads far tighter than random placement", () => {
    const spread = (name: LoadBalancerName): number => {
      const pool = poolOf(10);
      const lb = createLoadBalancer<Node>(name, { random: seeded(11) });
      for (let i = 0; i < 2000; i++) {
        const picked = lb.pick(pool);
        if (picked) pool.acquire(picked.id);
      }
      const loads = [...pool.members()].map((m) => m.inflight);
      return Math.max(...loads) - Math.min(...loads);
    };
    const p2c = spread("least_inflight");
    expect(p2c).toBeLessThanOrEqual(4);
    expect(spread("random")).toBeGreaterThan(p2c);
  });
});

describe("hrw", () => {
  const keys = Array.from({ length: 5000 }, (_, i) => `session-${i}`);

  it("is stable for a key, independent of insertion order and pool instance", () => {
    const a = poolOf(8);
    const b = new ReplicaPool<Node>();
    for (let i = 7; i >= 0; i--) b.add({ id: `r${i}` });
    const lb = createLoadBalancer<Node>("hrw");
    for (const key of keys.slice(0, 500)) {
      const first = lb.pick(a, key)?.id;
      expect(lb.pick(a, key)?.id).toBe(first);
      expect(lb.pick(b, key)?.id).toBe(first);
    }
  });

  it("spreads keys evenly across members", () => {
    const pool = poolOf(5);
    const counts = tally(
      (() => {
        let i = 0;
        return () => pickHrw(keys[i++] ?? "", pool);
      })(),
      keys.length,
    );
    expect(counts.size).toBe(5);
    for (const c of counts.values()) expect(Math.abs(c - 1000)).toBeLessThan(150);
  });

  it("moves only the departed member's keys (~1/N) when a member leaves", () => {
    const pool = poolOf(5);
    const before = new Map(keys.map((k) => [k, pickHrw(k, pool)?.id]));
    pool.remove("r3");
    let moved = 0;
    for (const k of keys) {
      const now = pickHrw(k, pool)?.id;
      if (now !== before.get(k)) {
        moved++;
        expect(before.get(k)).toBe("r3");
      } else {
        expect(before.get(k)).not.toBe("r3");
      }
    }
    expect(moved / keys.length).toBeGreaterThan(0.2 * 0.75);
    expect(moved / keys.length).toBeLessThan(0.2 * 1.25);
  });

  it("a joining member takes keys only for itself", () => {
    const pool = poolOf(4);
    const before = new Map(keys.map((k) => [k, pickHrw(k, pool)?.id]));
    pool.add({ id: "new" });
    let moved = 0;
    for (const k of keys) {
      const now = pickHrw(k, pool)?.id;
      if (now !== before.get(k)) {
        moved++;
        expect(now).toBe("new");
      }
    }
    expect(moved / keys.length).toBeGreaterThan(0.15);
    expect(moved / keys.length).toBeLessThan(0.25);
  });

  it("a draining member's keys go elsewhere and come back when it resumes", () => {
    const pool = poolOf(4);
    const lb = createLoadBalancer<Node>("hrw");
    const owned = keys.filter((k) => lb.pick(pool, k)?.id === "r1").slice(0, 50);
    pool.setDraining("r1", true);
    for (const k of owned) expect(lb.pick(pool, k)?.id).not.toBe("r1");
    pool.setDraining("r1", false);
    for (const k of owned) expect(lb.pick(pool, k)?.id).toBe("r1");
  });

  it("falls back to round robin without a key", () => {
    const pool = poolOf(3);
    const lb = createLoadBalancer<Node>("hrw");
    const counts = tally(() => lb.pick(pool), 300);
    for (const c of counts.values()) expect(c).toBe(100);
  });

  it("hrwRank orders all members, best first, consistent with pick", () => {
    const pool = poolOf(6);
    const members = [...pool.nodes()];
    for (const key of keys.slice(0, 200)) {
      const ranked = hrwRank(key, members);
      expect(ranked.map((m) => m.id).sort()).toEqual(members.map((m) => m.id).sort());
      expect(ranked[0]?.id).toBe(pickHrw(key, pool)?.id);
      // Removing the winner promotes the runner-up.
      const withoutTop = poolOf(6);
      withoutTop.remove(ranked[0]?.id ?? "");
      expect(pickHrw(key, withoutTop)?.id).toBe(ranked[1]?.id);
    }
    expect(hrwRank("k", [])).toEqual([]);
    expect(members.map((m) => m.id)).toEqual(["r0", "r1", "r2", "r3", "r4", "r5"]);
  });
});

describe("pickHrwBounded", () => {
  it("never lets a member exceed ceil(factor × average load)", () => {
    for (const factor of [1, 1.25, 2]) {
      const pool = poolOf(7);
      const load = new Map<string, number>();
      let total = 0;
      // A skewed key set: many keys hash to few members without the bound.
      for (let i = 0; i < 3000; i++) {
        const picked = pickHrwBounded(`hot-${i % 40}`, pool, (m) => load.get(m.id) ?? 0, factor);
        expect(picked).toBeDefined();
        const id = picked?.id ?? "";
        load.set(id, (load.get(id) ?? 0) + 1);
        total++;
        const cap = Math.ceil((factor * total) / 7);
        expect(load.get(id)).toBeLessThanOrEqual(cap);
      }
    }
  });

  it("equals plain HRW while loads are under the cap and skips overloaded members in HRW order", () => {
    const pool = poolOf(5);
    const members = [...pool.nodes()];
    for (let i = 0; i < 100; i++) {
      const key = `k${i}`;
      expect(pickHrwBounded(key, pool, () => 0, 1.25)?.id).toBe(pickHrw(key, pool)?.id);
      const ranked = hrwRank(key, members);
      const heavy = ranked[0]?.id;
      // The top member is far over the cap: the runner-up takes the key.
      const picked = pickHrwBounded(key, pool, (m) => (m.id === heavy ? 100 : 0), 1.25);
      expect(picked?.id).toBe(ranked[1]?.id);
    }
  });

  it("ignores draining members and validates the factor", () => {
    const pool = poolOf(3);
    pool.setDraining("r0", true);
    for (let i = 0; i < 100; i++) expect(pickHrwBounded(`k${i}`, pool, () => 0, 1.5)?.id).not.toBe("r0");
    expect(pickHrwBounded("k", new ReplicaPool<Node>(), () => 0, 1.5)).toBeUndefined();
    expect(() => pickHrwBounded("k", pool, () => 0, 0.5)).toThrow(RangeError);
    expect(() => pickHrwBounded("k", pool, () => 0, Number.NaN)).toThrow(RangeError);
  });
});

describe("least_inflight in a cluster", () => {
  it("takes the replica attached to this sentinel when the two sampled are equally loaded", () => {
    const pool = new ReplicaPool<{ id: string; remote?: { owner: string } }>();
    pool.add({ id: "remote", remote: { owner: "B" } });
    pool.add({ id: "local" });
    const lb = createLoadBalancer<{ id: string; remote?: { owner: string } }>("least_inflight", {
      random: seeded(3),
    });
    for (let i = 0; i < 50; i++) expect(lb.pick(pool)?.id).toBe("local");
    // busier, the local replica is passed over: the load decides first
    pool.acquire("local");
    expect(lb.pick(pool)?.id).toBe("remote");
  });
});
