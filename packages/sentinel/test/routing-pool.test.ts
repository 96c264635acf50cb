import { describe, expect, it } from "vitest";
import { ReplicaPool } from "../src/routing/index.js";

interface Node {
  id: string;
  tag?: string;
}
const node = (id: string, tag?: string): Node => (tag === undefined ? { id } : { id, tag });
const ids = (pool: ReplicaPool<Node>): string[] => [...pool.nodes()].map((n) => n.id);

describe("ReplicaPool", () => {
  it("adds, finds and removes members in insertion order", () => {
    const pool = new ReplicaPool<Node>();
    for (const id of ["a", "b", "c"]) expect(pool.add(node(id))).toBe("added");
    expect(pool.size).toBe(3);
    expect(pool.has("b")).toBe(true);
    expect(pool.get("c")?.id).toBe("c");
    expect(pool.remove("b")).toBe(true);
    expect(pool.remove("b")).toBe(false);
    expect(pool.has("b")).toBe(false);
    expect(ids(pool)).toEqual(["a", "c"]);
    pool.add(node("b"));
    expect(ids(pool)).toEqual(["a", "c", "b"]);
  });

  it("keeps insertion order across hole compaction", () => {
    const pool = new ReplicaPool<Node>();
    for (let i = 0; i < 40; i++) pool.add(node(`n${i}`));
    for (let i = 0; i < 40; i += 2) pool.remove(`n${i}`);
    for (let i = 1; i < 30; i += 4) pool.remove(`n${i}`);
    const expected = Array.from({ length: 40 }, (_, i) => i)
      .filter((i) => i % 2 === 1 && !(i < 30 && (i - 1) % 4 === 0))
      .map((i) => `n${i}`);
    expect(ids(pool)).toEqual(expected);
    expect(pool.size).toBe(expected.length);
    expect(pool.eligibleCount).toBe(expected.length);
    for (const id of expected) expect(pool.has(id)).toBe(true);
  });

  it("re-adding a member replaces the node but keeps counters and flags", () => {
    const pool = new ReplicaPool<Node>();
    pool.add(node("a", "old"));
    pool.acquire("a");
    pool.setDraining("a", true);
    expect(pool.add(node("a", "new"))).toBe("updated");
    expect(pool.get("a")?.tag).toBe("new");
    expect(pool.member("a")).toMatchObject({ inflight: 1, requests: 1, draining: true });
    expect(pool.eligibleCount).toBe(0);
  });

  it("refuses members beyond maxMembers", () => {
    const pool = new ReplicaPool<Node>({ maxMembers: 2 });
    pool.add(node("a"));
    pool.add(node("b"));
    expect(pool.add(node("c"))).toBe("full");
    expect(pool.add(node("a"))).toBe("updated");
    expect(pool.size).toBe(2);
    expect(() => new ReplicaPool<Node>({ maxMembers: 0 })).toThrow(RangeError);
  });

  it("counts inflight and requests; release never goes negative", () => {
    const pool = new ReplicaPool<Node>();
    pool.add(node("a"));
    pool.acquire("a");
    pool.acquire("a");
    pool.release("a");
    pool.release("a");
    pool.release("a");
    expect(pool.member("a")).toMatchObject({ inflight: 0, requests: 2 });
    expect(pool.acquire("zz")).toBe(false);
    expect(pool.release("zz")).toBe(false);
  });

  it("tracks eligibility through draining and health flags", () => {
    const pool = new ReplicaPool<Node>();
    for (const id of ["a", "b", "c"]) pool.add(node(id));
    pool.setDraining("a", true);
    pool.setHealthy("b", false);
    pool.setHealthy("b", false);
    expect(pool.eligibleCount).toBe(1);
    expect([...pool.eligibleMembers()].map((m) => m.node.id)).toEqual(["c"]);
    expect(pool.isEligible("a")).toBe(false);
    pool.setDraining("a", false);
    pool.remove("b");
    expect(pool.eligibleCount).toBe(2);
    expect(pool.setDraining("zz", true)).toBe(false);
    expect(pool.stats()).toEqual([
      { id: "a", inflight: 0, requests: 0, draining: false, healthy: true },
      { id: "c", inflight: 0, requests: 0, draining: false, healthy: true },
    ]);
  });
});
