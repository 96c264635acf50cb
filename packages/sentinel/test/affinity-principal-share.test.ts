import { PoolRouter, parsePoolPolicies, principalShare, ReplicaPool } from "@fame/sentinel";
import { describe, expect, it } from "vitest";
import { quietLogger } from "./fake-link.js";

/**
 * A credential holder can start as many processes as it likes, each a client of its own: the
 * session limits that keep one client from holding a pool count its principal as a whole.
 */
const EXCL = "excl@fame.fabric";
const MATH = "math@fame.fabric";
const limits = { maxExclusivePerClient: 4, principalSharePct: 50 };

function router(replicas: number, maxSessions = 100) {
  const pools = parsePoolPolicies([
    { address: EXCL, affinity: "session", exclusive: true },
    { address: MATH, affinity: "session", max_sessions: maxSessions },
  ]);
  const pool = new ReplicaPool<{ id: string }>();
  for (let i = 0; i < replicas; i++) pool.add({ id: `r${i}` });
  const r = new PoolRouter<{ id: string }>(pools, {
    log: quietLogger,
    resolve: () => pool,
    sentinelId: "s0",
  });
  /** the authorize stage's question, then the route stage's placement, as for a request */
  const open = (address: string, sessionId: string, owner: string) => {
    const refused = r.sessionAccess(address, sessionId, owner, limits);
    if (refused !== undefined) return refused.code;
    const placed = r.place(address, pool, sessionId, owner);
    return placed.kind === "node" ? (placed.node?.id ?? "none") : placed.code;
  };
  return { open };
}

describe("per-principal session limits", () => {
  it("principalShare: a share, at least one, one left for others from two up", () => {
    expect([1, 2, 3, 4, 10].map((n) => principalShare(n, 50))).toEqual([1, 1, 2, 2, 5]);
    expect([1, 2, 3].map((n) => principalShare(n, 100))).toEqual([1, 2, 3]);
    expect(principalShare(100_000, 50)).toBe(50_000);
  });

  it("one principal's many processes cannot hold every replica of an exclusive pool", () => {
    const { open } = router(3);
    const mallory = (i: number) => `mallory\u0000instance-${i}`;
    expect(open(EXCL, "m1", mallory(1))).toMatch(/^r/);
    expect(open(EXCL, "m2", mallory(2))).toMatch(/^r/);
    // a third process of the same credential: its share (2 of 3) is taken
    expect(open(EXCL, "m3", mallory(3))).toBe("too_many_client_sessions");
    // another client still finds a free replica
    expect(open(EXCL, "v1", "victim\u0000i1")).toMatch(/^r/);
    // and the owner's own sessions still route
    expect(open(EXCL, "m1", mallory(1))).toMatch(/^r/);
  });

  it("one principal cannot fill a pool's session table and have other clients' sessions evicted", () => {
    const { open } = router(2, 10);
    const victim = open(MATH, "victim-session", "victim\u0000i1");
    const results = Array.from({ length: 20 }, (_, i) => open(MATH, `flood-${i}`, `mallory\u0000i${i}`));
    expect(results.filter((r) => r === "too_many_client_sessions")).toHaveLength(15);
    // the victim's session is still where it was
    expect(open(MATH, "victim-session", "victim\u0000i1")).toBe(victim);
  });
});
