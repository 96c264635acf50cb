import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CryptoError, ReplayWindow } from "../src/index.js";

describe("ReplayWindow", () => {
  it("treats 0, negatives, fractions and unsafe integers as invalid", () => {
    const window = new ReplayWindow(64);
    for (const seq of [0, -1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1, Number.POSITIVE_INFINITY]) {
      expect(window.check(seq)).toBe("invalid");
    }
    expect(() => window.mark(0)).toThrow(CryptoError);
    expect(window.check(Number.MAX_SAFE_INTEGER)).toBe("fresh");
  });

  it("accepts the first record whatever its number, then rejects its duplicate", () => {
    const window = new ReplayWindow(64);
    expect(window.highest).toBe(0);
    expect(window.check(1)).toBe("fresh");
    window.mark(1);
    expect(window.highest).toBe(1);
    expect(window.check(1)).toBe("duplicate");
    expect(() => window.mark(1)).toThrow(expect.objectContaining({ code: "replay" }));

    const late = new ReplayWindow(64);
    late.mark(500);
    expect(late.check(500)).toBe("duplicate");
    expect(late.check(437)).toBe("fresh");
    expect(late.check(436)).toBe("too_old");
  });

  it("rejects exactly window-size old, accepts one newer", () => {
    const window = new ReplayWindow(1024);
    window.mark(2000);
    expect(window.check(2000 - 1024)).toBe("too_old");
    expect(window.check(2000 - 1023)).toBe("fresh");
    window.mark(2000 - 1023);
    expect(window.check(2000 - 1023)).toBe("duplicate");
  });

  it("accepts out-of-order records inside the window exactly once", () => {
    const window = new ReplayWindow(32);
    for (const seq of [5, 3, 4, 1, 2, 10, 7, 6, 9, 8]) {
      expect(window.check(seq)).toBe("fresh");
      window.mark(seq);
    }
    for (let seq = 1; seq <= 10; seq++) expect(window.check(seq)).toBe("duplicate");
    expect(window.highest).toBe(10);
  });

  it("forgets everything on a far jump ahead, without false duplicates", () => {
    const window = new ReplayWindow(64);
    for (let seq = 1; seq <= 100; seq++) window.mark(seq);
    window.mark(1_000_000);
    expect(window.check(100)).toBe("too_old");
    expect(window.check(1_000_000 - 63)).toBe("fresh");
    // Same ring slots as the old 37..100 numbers: must read as unseen, not as duplicates.
    for (let seq = 1_000_000 - 63; seq < 1_000_000; seq++) expect(window.check(seq)).toBe("fresh");
  });

  it("works above 2^32, where bit operations on seq would wrap", () => {
    const window = new ReplayWindow(64);
    const base = 2 ** 40 + 7;
    window.mark(base);
    window.mark(base - 3);
    expect(window.check(base - 3)).toBe("duplicate");
    expect(window.check(base - 2)).toBe("fresh");
    expect(window.check(base - 64)).toBe("too_old");
    expect(window.check(base + 2 ** 32)).toBe("fresh");
  });

  it("supports sizes that are not multiples of 32", () => {
    const window = new ReplayWindow(33);
    window.mark(100);
    expect(window.check(67)).toBe("too_old");
    expect(window.check(68)).toBe("fresh");
    expect(() => new ReplayWindow(0)).toThrow(CryptoError);
  });

  it("matches a set-based model on random traffic", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 }),
        fc.array(fc.integer({ min: 1, max: 400 }), { maxLength: 300 }),
        (size, seqs) => {
          const window = new ReplayWindow(size);
          const seen = new Set<number>();
          let highest = 0;
          for (const seq of seqs) {
            const expected = seen.has(seq) ? "duplicate" : seq <= highest - size ? "too_old" : "fresh";
            const verdict = window.check(seq);
            // A seen number that fell out of the window reports too_old: both mean replay.
            if (expected === "duplicate" && seq <= highest - size) expect(verdict).toBe("too_old");
            else expect(verdict).toBe(expected);
            if (verdict === "fresh") {
              window.mark(seq);
              seen.add(seq);
              highest = Math.max(highest, seq);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
