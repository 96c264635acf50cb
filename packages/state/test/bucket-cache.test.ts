import { describe, expect, it } from "vitest";
import { BucketCache } from "../src/bucket-cache.js";

const entry = (value: string, revision: number, at = Date.now()) => ({ value, revision, at });

describe("BucketCache", () => {
  it("keeps the newest revision; a watch's initial value replaces whatever was cached", () => {
    const c = new BucketCache<string>(10, 60_000, () => {});
    c.set("k", entry("v2", 2));
    c.set("k", entry("v1", 1));
    expect(c.get("k")?.value).toBe("v2");
    c.set("k", entry("v1", 1), true); // a recreated bucket numbers from 1 again
    expect(c.get("k")?.value).toBe("v1");
    c.remove("k", 0); // a delete older than the value does not remove it
    expect(c.get("k")?.value).toBe("v1");
    c.remove("k", 5);
    expect(c.get("k")).toBeUndefined();
  });

  it("is bounded: past maxEntries new keys are not cached, known keys still update", () => {
    const c = new BucketCache<string>(2, 60_000, () => {});
    c.set("a", entry("a", 1));
    c.set("b", entry("b", 2));
    c.set("c", entry("c", 3));
    expect(c.size).toBe(2);
    expect(c.dropped).toBe(1);
    c.set("a", entry("a2", 4));
    expect(c.get("a")?.value).toBe("a2");
  });

  it("sweeps values older than the max age and tells listeners; a failing listener does not stop the others", () => {
    const errors: unknown[] = [];
    const c = new BucketCache<string>(10, 1000, (err) => errors.push(err));
    const seen: [string, string | undefined][] = [];
    c.onChange(() => {
      throw new Error("listener bug");
    });
    c.onChange((k, e) => seen.push([k, e?.value]));
    c.set("old", entry("o", 1, 1000));
    c.set("new", entry("n", 2, 5000));
    c.sweep(5500);
    expect([...c.keys()]).toEqual(["new"]);
    expect(seen).toEqual([
      ["old", "o"],
      ["new", "n"],
      ["old", undefined],
    ]);
    expect(errors).toHaveLength(3);
  });

  it("ages values out only as far as it is known to follow the backend (a stalled watch forgets nothing live)", () => {
    const c = new BucketCache<string>(10, 1000, () => {});
    let followed = 5000;
    c.followedUntil(() => followed);
    c.set("stale", entry("s", 1, 3000));
    c.set("live", entry("l", 2, 4500));
    // the watch stalled at 5000: at 9000 only what was old already then goes
    c.sweep(9000);
    expect([...c.keys()]).toEqual(["live"]);
    // it follows again: the values it still has not refreshed age out
    followed = 9000;
    c.sweep(9000);
    expect([...c.keys()]).toEqual([]);
  });
});
