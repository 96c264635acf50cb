import { describe, expect, it } from "vitest";
import { FreshnessWindow } from "../src/freshness.js";

const T0 = 1_700_000_000_000;

describe("FreshnessWindow", () => {
  it("accepts an id once, refuses it again from the same sender, not from another", () => {
    const w = new FreshnessWindow({ skewMs: 60_000 });
    expect(w.check("a", "id1", T0, T0)).toBe("ok");
    expect(w.check("a", "id1", T0, T0 + 1)).toBe("replay");
    expect(w.check("b", "id1", T0, T0)).toBe("ok");
    expect(w.check("a", "id2", T0, T0)).toBe("ok");
  });

  it("refuses timestamps outside the skew window either way", () => {
    const w = new FreshnessWindow({ skewMs: 60_000 });
    expect(w.check("a", "old", T0 - 60_001, T0)).toBe("stale");
    expect(w.check("a", "future", T0 + 60_001, T0)).toBe("stale");
    expect(w.check("a", "edge", T0 - 60_000, T0)).toBe("ok");
    expect(w.check("a", "nan", Number.NaN, T0)).toBe("stale");
  });

  it("still refuses a replay until its ts leaves the window, then as stale; old ids age out", () => {
    const w = new FreshnessWindow({ skewMs: 10_000 });
    expect(w.check("a", "x", T0, T0)).toBe("ok");
    for (let t = T0; t <= T0 + 10_000; t += 1000) expect(w.check("a", "x", T0, t)).toBe("replay");
    expect(w.check("a", "x", T0, T0 + 10_001)).toBe("stale");
    // a new id much later makes the old buckets go
    for (let i = 0; i < 100; i++) expect(w.check("a", `n${i}`, T0 + 100_000, T0 + 100_000)).toBe("ok");
    expect(w.size).toBe(100);
  });

  it("bounds ids per sender: the oldest bucket goes and nothing in it is taken for new", () => {
    const w = new FreshnessWindow({ skewMs: 8000, maxIdsPerSender: 100 });
    // 50 ids in an old bucket, then 60 in a newer one (skew 8 s: 1 s buckets)
    for (let i = 0; i < 50; i++) expect(w.check("a", `old${i}`, T0, T0 + 5000)).toBe("ok");
    for (let i = 0; i < 60; i++) expect(w.check("a", `new${i}`, T0 + 5000, T0 + 5000)).toBe("ok");
    expect(w.size).toBeLessThanOrEqual(100);
    // the forgotten old ids come back as stale, never as fresh
    expect(w.check("a", "old0", T0, T0 + 5000)).toBe("stale");
    expect(w.check("a", "new0", T0 + 5000, T0 + 5000)).toBe("replay");
  });

  it("bounds one sender flooding a single bucket: a replay of a forgotten id is stale", () => {
    const w = new FreshnessWindow({ skewMs: 8000, maxIdsPerSender: 10 });
    for (let i = 0; i < 10; i++) expect(w.check("a", `f${i}`, T0, T0)).toBe("ok");
    expect(w.check("a", "f10", T0, T0)).toBe("stale");
    expect(w.check("a", "f0", T0, T0)).toBe("stale");
    expect(w.check("a", "later", T0 + 1, T0 + 1)).toBe("ok");
  });

  it("bounds senders and ids in all: a dropped sender's old envelopes are stale, not new", () => {
    const w = new FreshnessWindow({ skewMs: 60_000, maxSenders: 2, maxIds: 1000 });
    expect(w.check("a", "a1", T0, T0)).toBe("ok");
    expect(w.check("b", "b1", T0 + 1, T0 + 1)).toBe("ok");
    expect(w.check("c", "c1", T0 + 2, T0 + 2)).toBe("ok");
    expect(w.senders).toBe(2);
    // "a" was dropped: its replay is refused as stale
    expect(w.check("a", "a1", T0, T0 + 3)).toBe("stale");
    const total = new FreshnessWindow({ skewMs: 60_000, maxIds: 10 });
    for (let i = 0; i < 5; i++) total.check("q", `q${i}`, T0, T0);
    for (let i = 0; i < 20; i++) total.check("r", `r${i}`, T0 + 10, T0 + 10);
    expect(total.size).toBeLessThanOrEqual(10);
    expect(total.check("q", "q0", T0, T0 + 20)).toBe("stale");
  });

  it("refuses limits that are not positive integers", () => {
    expect(() => new FreshnessWindow({ skewMs: 0 })).toThrow(RangeError);
    expect(() => new FreshnessWindow({ maxIds: 1.5 })).toThrow(RangeError);
  });
});
