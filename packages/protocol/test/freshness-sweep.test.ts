import { describe, expect, it } from "vitest";
import { FreshnessWindow } from "../src/freshness.js";

const T0 = 1_700_000_000_000;

describe("FreshnessWindow.sweep", () => {
  it("forgets senders whose newest id left the window, keeps the others", () => {
    const w = new FreshnessWindow({ skewMs: 10_000 });
    expect(w.check("quiet", "q1", T0, T0)).toBe("ok");
    expect(w.check("quiet", "q2", T0 + 1000, T0 + 1000)).toBe("ok");
    expect(w.check("busy", "b1", T0 + 9000, T0 + 9000)).toBe("ok");
    expect(w.sweep(T0 + 10_000)).toBe(0);
    expect(w.senders).toBe(2);
    expect(w.sweep(T0 + 11_001)).toBe(1);
    expect(w.senders).toBe(1);
    expect(w.size).toBe(1);
    // the busy sender's id is still remembered
    expect(w.check("busy", "b1", T0 + 9000, T0 + 11_001)).toBe("replay");
  });

  it("never lets a forgotten sender's envelope be taken again: it is stale", () => {
    const w = new FreshnessWindow({ skewMs: 10_000 });
    expect(w.check("a", "x", T0, T0)).toBe("ok");
    expect(w.sweep(T0 + 10_001)).toBe(1);
    expect(w.senders).toBe(0);
    expect(w.check("a", "x", T0, T0 + 10_001)).toBe("stale");
    // and the sender is admitted afresh with new envelopes
    expect(w.check("a", "y", T0 + 10_001, T0 + 10_001)).toBe("ok");
    expect(w.check("a", "y", T0 + 10_001, T0 + 10_002)).toBe("replay");
  });

  it("does nothing on an empty window", () => {
    const w = new FreshnessWindow();
    expect(w.sweep(T0)).toBe(0);
    expect(w.size).toBe(0);
  });
});
