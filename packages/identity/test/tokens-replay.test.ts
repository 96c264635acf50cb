import { describe, expect, it } from "vitest";
import { ExpiringUseCounter, ReplayGuard } from "../src/tokens/index.js";

describe("ReplayGuard", () => {
  const clock = (start = 1_000_000_000_000) => {
    let t = start;
    return { now: () => t, advance: (ms: number) => (t += ms), sec: () => Math.floor(t / 1000) };
  };

  it("accepts a ticket once", () => {
    const c = clock();
    const g = new ReplayGuard({ now: c.now, clockToleranceSec: 0 });
    expect(g.consume("j1", "i1", c.sec() + 60)).toBe("accepted");
    expect(g.consume("j1", "i1", c.sec() + 60)).toBe("replayed");
    expect(g.consume("j2", "i1", c.sec() + 60)).toBe("accepted");
    expect(g.has("j1", "i1")).toBe(true);
  });

  it("forgets a ticket only after exp + tolerance", () => {
    const c = clock();
    const g = new ReplayGuard({ now: c.now, clockToleranceSec: 10 });
    const exp = c.sec() + 5;
    expect(g.consume("j", "i", exp)).toBe("accepted");
    c.advance(14_000);
    expect(g.consume("j", "i", exp)).toBe("replayed");
    c.advance(2_000);
    expect(g.has("j", "i")).toBe(false);
    expect(g.size).toBe(1);
    g.consume("other", "i", c.sec() + 60); // triggers the sweep
    expect(g.size).toBe(1);
  });

  it("is bounded and fails closed when full of live tickets", () => {
    const c = clock();
    const g = new ReplayGuard({ now: c.now, maxEntries: 3, clockToleranceSec: 0 });
    for (const j of ["a", "b", "c"]) expect(g.consume(j, "i", c.sec() + 10)).toBe("accepted");
    expect(g.consume("d", "i", c.sec() + 10)).toBe("full");
    expect(g.consume("a", "i", c.sec() + 10)).toBe("replayed");
    c.advance(11_000);
    expect(g.consume("d", "i", c.sec() + 10)).toBe("accepted");
    expect(g.size).toBe(1);
  });

  it("does not store tickets that are already dead", () => {
    const c = clock();
    const g = new ReplayGuard({ now: c.now, clockToleranceSec: 0 });
    expect(g.consume("old", "i", c.sec() - 1)).toBe("accepted");
    expect(g.size).toBe(0);
  });
});

describe("ExpiringUseCounter", () => {
  it("counts up to maxUses per live key and rejects unusable bounds", () => {
    const now = 1_000_000_000_000;
    const u = new ExpiringUseCounter({ maxUses: 2, toleranceMs: 0, now: () => now });
    const exp = now / 1000 + 60;
    expect([u.use("k", exp), u.use("k", exp), u.use("k", exp)]).toEqual(["ok", "ok", "exhausted"]);
    expect(u.has("k")).toBe(true);
    expect(() => new ExpiringUseCounter({ maxUses: 0 })).toThrow(RangeError);
    expect(() => new ExpiringUseCounter({ maxEntries: 0 })).toThrow(RangeError);
  });
});
