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

  it("counts entries per credential however they leave, for requesters of one holder together", () => {
    const t = new InflightTracker();
    const of = (requesterId: string, corrId: string, credential: string, replicaId = "r1") => ({
      ...entry(requesterId, replicaId, corrId),
      credential,
    });
    t.track(of("c1", "a", "mallory"));
    t.track(of("c1", "a", "mallory")); // the same call again replaces its entry
    t.track(of("c2", "b", "mallory", "r2"));
    t.track(of("c3", "c", "mallory"));
    t.track(of("v1", "d", "victim"));
    t.track(of("n1", "e", "")); // no credential (a node attached elsewhere): counted nowhere
    expect(t.countForCredential("mallory")).toBe(3);
    expect(t.countForCredential("victim")).toBe(1);
    expect(t.countForCredential("")).toBe(0);
    expect(t.complete("r1", "c1", "a")).toBeDefined();
    expect(t.countForCredential("mallory")).toBe(2);
    t.takeAllFor("r2"); // the replica left
    expect(t.countForCredential("mallory")).toBe(1);
    t.dropRequester("c3"); // the requester left
    expect(t.countForCredential("mallory")).toBe(0);
    expect(t.sweep(1000)).toBe(2); // past their deadline
    expect(t.countForCredential("victim")).toBe(0);
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

  it("completes an entry only for the replica it was routed to, and reports every removal", () => {
    const removed: string[] = [];
    const t = new InflightTracker(100, (e) => removed.push(`${e.requesterId}/${e.corrId}`));
    t.track(entry("c1", "r1", "a"));
    t.track(entry("c1", "r1", "b"));
    t.track(entry("c2", "r2", "a"));
    t.complete("r2", "c1", "a"); // wrong replica: a forged answer must not free the slot
    expect(t.countFor("c1")).toBe(2);
    t.complete("r1", "c1", "a");
    t.complete("r1", "c1", "a"); // twice is harmless
    expect(t.countFor("c1")).toBe(1);
    t.track(entry("c1", "r2", "b")); // the same call re-routed replaces its entry
    expect(t.takeAllFor("r1")).toEqual([]);
    expect(
      t
        .takeAllFor("r2")
        .map((e) => `${e.requesterId}/${e.corrId}`)
        .sort(),
    ).toEqual(["c1/b", "c2/a"]);
    expect(t.size).toBe(0);
    expect(removed.sort()).toEqual(["c1/a", "c1/b", "c1/b", "c2/a"]);
  });

  it("sweeps only expired entries, at most maxWork per call", () => {
    const t = new InflightTracker();
    for (let i = 0; i < 10; i++) t.track({ ...entry("c", "r", `k${i}`), deadline: i < 6 ? 10 : 99 });
    expect(t.sweep(50, 4)).toBe(4);
    expect(t.sweep(50, 100)).toBe(2);
    expect(t.size).toBe(4);
    expect(t.sweep(100)).toBe(4);
    expect(t.size).toBe(0);
    // emptied indexes are dropped by the sweep too: nothing is left to route to or count
    expect(t.countFor("c")).toBe(0);
    expect(t.takeAllFor("r")).toEqual([]);
  });
});
