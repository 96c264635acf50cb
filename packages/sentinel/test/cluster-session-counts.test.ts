import { ClusterSessionCounts, sessionKey } from "@fame/sentinel";
import { describe, expect, it } from "vitest";

const POOL = "excl@fame.fabric";
const at = (replicaSystemId: string, owner: string, lastSeen: number) => ({
  replicaSystemId,
  owner,
  lastSeen,
});

describe("ClusterSessionCounts", () => {
  it("counts every sentinel's live sessions per replica and per principal, and follows moves and ends", () => {
    const c = new ClusterSessionCounts();
    c.update(sessionKey(POOL, "s1"), at("r1", "p\u0000i1", 1000));
    c.update(sessionKey(POOL, "s2"), at("r2", "p\u0000i2", 1000));
    c.update(sessionKey(POOL, "s3"), at("r2", "q\u0000i1", 1000));
    c.update(sessionKey("other@fame.fabric", "s4"), at("r1", "p\u0000i1", 1000));
    expect([c.onReplica(POOL, "r1", 60_000, 2000), c.onReplica(POOL, "r2", 60_000, 2000)]).toEqual([1, 2]);
    expect(c.ofPrincipal(POOL, "p", 60_000, 2000, 10)).toBe(2);
    // a move and an end
    c.update(sessionKey(POOL, "s2"), at("r1", "p\u0000i2", 1500));
    c.update(sessionKey(POOL, "s3"), undefined);
    expect([c.onReplica(POOL, "r1", 60_000, 2000), c.onReplica(POOL, "r2", 60_000, 2000)]).toEqual([2, 0]);
    expect(c.ofPrincipal(POOL, "q", 60_000, 2000, 10)).toBe(0);
    expect(c.size).toBe(3);
  });

  it("does not count records idle past the ttl (a dead sentinel's), and recounts a principal at its limit once a second", () => {
    const c = new ClusterSessionCounts();
    for (let i = 0; i < 4; i++) c.update(sessionKey(POOL, `s${i}`), at("r1", "p\u0000i", 1000));
    // a replica held only by stale records is free
    expect(c.onReplica(POOL, "r1", 5000, 7000)).toBe(0);
    // at its limit by records, a principal is counted for real: stale ones do not count
    expect(c.ofPrincipal(POOL, "p", 5000, 7000, 4)).toBe(0);
    // below the limit the number of records answers (an upper bound)
    expect(c.ofPrincipal(POOL, "p", 5000, 7000, 10)).toBe(4);
    // fresh again: a count below the limit was not remembered, so it shows at once
    for (let i = 0; i < 4; i++) c.update(sessionKey(POOL, `s${i}`), at("r1", "p\u0000i", 7100));
    expect(c.ofPrincipal(POOL, "p", 5000, 7200, 4)).toBe(4);
    // a count at the limit is remembered for a second, then done again
    for (let i = 0; i < 4; i++) c.update(sessionKey(POOL, `s${i}`), at("r1", "p\u0000i", 1000));
    expect(c.ofPrincipal(POOL, "p", 5000, 7500, 4)).toBe(4);
    expect(c.ofPrincipal(POOL, "p", 5000, 8300, 4)).toBe(0);
  });
});
