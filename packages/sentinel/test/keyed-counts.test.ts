import { describe, expect, it } from "vitest";
import { countDown, countUp } from "../src/keyed-counts.js";

describe("keyed counts", () => {
  it("counts up and down per key, and keeps no entry at zero", () => {
    const counts = new Map<string, number>();
    countUp(counts, "a");
    countUp(counts, "a");
    countUp(counts, "b");
    expect([...counts]).toEqual([
      ["a", 2],
      ["b", 1],
    ]);
    countDown(counts, "a");
    countDown(counts, "b");
    expect([...counts]).toEqual([["a", 1]]);
    // a key never counted stays absent
    countDown(counts, "c");
    countDown(counts, "a");
    expect(counts.size).toBe(0);
  });
});
