import { describe, expect, it } from "vitest";
import { MAX_PENDING_ENDS_PER_PRINCIPAL, PendingSessionEnds } from "../src/affinity/session-ends.js";

const owner = (principal: string, instance = "i1") => `${principal}\u0000${instance}`;

describe("session ends waiting for their reply", () => {
  it("ends the session once the replica answered its last call", () => {
    const ended: string[] = [];
    const ends = new PendingSessionEnds(
      () => 0,
      (_a, sessionId) => ended.push(sessionId),
    );
    expect(ends.wait("a@fame.fabric", "s1", owner("alice"), "r1", "c1", "k1", 1000)).toBe(true);
    ends.onReply("r1", "c1", "other");
    expect(ended).toEqual([]);
    ends.onReply("r1", "c1", "k1");
    expect(ended).toEqual(["s1"]);
    expect(ends.size).toBe(0);
  });

  it("gives one principal a share of the places, whatever its processes: others still wait", () => {
    const ends = new PendingSessionEnds(
      () => 0,
      () => undefined,
    );
    // a credential's processes ending sessions with calls that are never answered
    for (let i = 0; i < MAX_PENDING_ENDS_PER_PRINCIPAL; i++) {
      expect(
        ends.wait(
          "a@fame.fabric",
          `s${i}`,
          owner("mallory", `p${i % 97}`),
          "r1",
          `n${i % 97}`,
          `k${i}`,
          60_000,
        ),
      ).toBe(true);
    }
    expect(ends.wait("a@fame.fabric", "one-more", owner("mallory", "p0"), "r1", "n0", "kx", 60_000)).toBe(
      false,
    );
    // another principal's end still waits for its reply
    expect(ends.wait("a@fame.fabric", "victim", owner("alice"), "r2", "c1", "k1", 60_000)).toBe(true);
    // a resent frame takes the place it held
    expect(ends.wait("a@fame.fabric", "victim", owner("alice"), "r2", "c1", "k1", 60_000)).toBe(true);
    expect(ends.size).toBe(MAX_PENDING_ENDS_PER_PRINCIPAL + 1);
  });

  it("gives a place back when an end takes effect (answered, replica gone, overdue)", () => {
    let now = 0;
    const ends = new PendingSessionEnds(
      () => now,
      () => undefined,
    );
    for (let i = 0; i < MAX_PENDING_ENDS_PER_PRINCIPAL; i++)
      ends.wait("a@fame.fabric", `s${i}`, owner("mallory"), i % 2 === 0 ? "r1" : "r2", "n1", `k${i}`, 1000);
    expect(ends.wait("a@fame.fabric", "late", owner("mallory"), "r1", "n1", "late", 1000)).toBe(false);
    ends.onReply("r1", "n1", "k0");
    expect(ends.wait("a@fame.fabric", "late", owner("mallory"), "r1", "n1", "late", 1000)).toBe(true);
    ends.onNodeLeft("r2");
    now = 2000;
    ends.sweep(1_000_000);
    expect(ends.size).toBe(0);
    expect(ends.wait("a@fame.fabric", "again", owner("mallory"), "r1", "n1", "again", 1000)).toBe(true);
  });
});
