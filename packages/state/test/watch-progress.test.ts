import { describe, expect, it } from "vitest";
import { WatchProgress } from "../src/nats/watch-progress.js";

describe("WatchProgress", () => {
  it("never calls a watch that keeps up stalled, even a few writes behind at every check", () => {
    const p = new WatchProgress();
    p.saw(10);
    expect(p.stalled(10)).toBe(false);
    // behind at each check, but past what the previous check saw
    expect(p.stalled(12)).toBe(false);
    p.saw(12);
    expect(p.stalled(15)).toBe(false);
    p.saw(15);
    p.saw(16);
    expect(p.stalled(18)).toBe(false);
    p.saw(18);
    expect(p.stalled(18)).toBe(false);
  });

  it("calls a watch stalled once it is still short of the sequence the previous check saw", () => {
    const p = new WatchProgress();
    p.saw(20);
    expect(p.stalled(25)).toBe(false);
    p.saw(22); // some progress, but not to 25
    expect(p.stalled(30)).toBe(true);
    // after a restart it starts afresh
    p.restarted();
    p.saw(30);
    expect(p.stalled(30)).toBe(false);
  });

  it("forgets an old lag once the watch catches up", () => {
    const p = new WatchProgress();
    expect(p.stalled(5)).toBe(false);
    p.saw(5);
    expect(p.stalled(5)).toBe(false);
    expect(p.stalled(9)).toBe(false);
    p.saw(9);
    expect(p.stalled(9)).toBe(false);
  });

  it("says when it has delivered everything up to the stream's last sequence", () => {
    const p = new WatchProgress();
    expect(p.caughtUp(0)).toBe(true);
    p.saw(7);
    expect([p.caughtUp(7), p.caughtUp(6), p.caughtUp(8)]).toEqual([true, true, false]);
  });
});
