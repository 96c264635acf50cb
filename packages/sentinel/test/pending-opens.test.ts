import { describe, expect, it } from "vitest";
import { OPEN_TIMEOUT_MS, PendingOpens } from "../src/pipeline/pending-opens.js";

function opens(max: number, pins: Record<string, number> = {}) {
  const clock = { t: 1_000 };
  const p = new PendingOpens(max, { pinsOfClient: (sid) => pins[sid] ?? 0 }, () => clock.t);
  return { p, clock };
}

describe("PendingOpens", () => {
  it("counts a client's pinned channels and its pending opens against its quota", () => {
    const { p } = opens(3, { c: 2 });
    expect(p.held("c")).toBe(2);
    p.add("c", "ch1", "r1", "math@fame.fabric");
    expect(p.held("c")).toBe(3);
    expect(p.held("other")).toBe(0);
    expect(p.maxChannelsPerClient).toBe(3);
  });

  it("counts a repeated open of the same channel once, the latest replacing the earlier", () => {
    const { p } = opens(10);
    const first = p.add("c", "ch1", "r1", "math@fame.fabric");
    const again = p.add("c", "ch1", "r2", "math@fame.fabric");
    expect(p.size).toBe(1);
    expect(p.held("c")).toBe(1);
    expect(p.get("c", "ch1")).toBe(again);
    // dropping the replaced one leaves the latest in place
    p.drop(first);
    expect(p.get("c", "ch1")).toBe(again);
    p.drop(again);
    expect([p.size, p.held("c")]).toEqual([0, 0]);
  });

  it("keeps channels of different clients apart, even under the same cid", () => {
    const { p } = opens(10);
    p.add("a", "ch", "r1", "x@fame.fabric");
    p.add("b", "ch", "r2", "x@fame.fabric");
    expect(p.get("a", "ch")?.replicaId).toBe("r1");
    expect(p.get("b", "ch")?.replicaId).toBe("r2");
    expect([p.held("a"), p.held("b")]).toEqual([1, 1]);
  });

  it("drops overdue opens on sweep, which frees their quota", () => {
    const { p, clock } = opens(10);
    p.add("c", "old", "r1", "x@fame.fabric");
    clock.t += OPEN_TIMEOUT_MS / 2;
    p.add("c", "new", "r1", "x@fame.fabric");
    clock.t += OPEN_TIMEOUT_MS / 2;
    p.sweep(clock.t);
    expect(p.get("c", "old")).toBeUndefined();
    expect(p.get("c", "new")).toBeDefined();
    expect(p.held("c")).toBe(1);
    p.sweep(clock.t + OPEN_TIMEOUT_MS);
    expect([p.size, p.held("c")]).toEqual([0, 0]);
  });

  it("keeps an open whose accept is being pinned until it is dropped", () => {
    const { p, clock } = opens(1);
    const open = p.add("c", "ch", "r1", "x@fame.fabric");
    open.accepting = true;
    expect(p.held("c")).toBe(1);
    p.drop(open);
    expect(p.held("c")).toBe(0);
    // a sweep after the drop finds nothing to do
    p.sweep(clock.t + OPEN_TIMEOUT_MS);
    expect(p.size).toBe(0);
  });
});
