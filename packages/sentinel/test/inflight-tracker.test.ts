import { type InflightEntry, InflightTracker } from "@fame/sentinel";
import { describe, expect, it } from "vitest";

function entry(requesterId: string, replicaId: string, corrId: string): InflightEntry {
  return { requesterId, replicaId, corrId, envelopeId: `e-${corrId}`, replyTo: undefined, deadline: 1000 };
}

describe("InflightTracker", () => {
  it("drops only the leaving requester's entries and keeps counts per requester", () => {
    const t = new InflightTracker();
    t.track(entry("c1", "r1", "a"));
    t.track(entry("c1", "r2", "b"));
    t.track(entry("c2", "r1", "a"));
    expect(t.countFor("c1")).toBe(2);
    t.dropRequester("c1");
    expect(t.countFor("c1")).toBe(0);
    expect(t.size).toBe(1);
    expect(t.takeAllFor("r1").map((e) => e.requesterId)).toEqual(["c2"]);
    expect(t.takeAllFor("r2")).toEqual([]);
    expect(t.size).toBe(0);
  });

  it("refuses to track beyond its bound, and a repeated corrId replaces its entry", () => {
    const t = new InflightTracker(2);
    expect(t.track(entry("c", "r", "a"))).toBe(true);
    expect(t.track(entry("c", "r", "a"))).toBe(true);
    expect(t.track(entry("c", "r", "b"))).toBe(true);
    expect(t.track(entry("c", "r", "c"))).toBe(false);
    expect(t.countFor("c")).toBe(2);
    expect(t.sweep(1000)).toBe(2);
    expect(t.countFor("c")).toBe(0);
  });
});
