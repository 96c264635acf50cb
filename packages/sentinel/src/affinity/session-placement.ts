/**
 * Where a new session goes: rendezvous (HRW) hashing of the session id over the pool's
 * eligible members, with a cap on sessions per member. HRW keeps placement stable (a member
 * leaving moves only the sessions it held); the cap keeps a few hot hash values from piling
 * sessions onto one member.
 */
import { keyHash } from "../routing/hash.js";
import { bestHrw } from "../routing/hrw.js";
import type { ReplicaPool } from "../routing/replica-pool.js";

/**
 * Most sessions a member may hold once the new one is placed.
 *
 * `floor(factor × avg)` is used rather than the usual `ceil`, so that with two members and
 * any factor below 2 the second session is guaranteed to land on the other member (cap 1).
 * The cap never goes below `ceil(avg)`, the perfectly even share, so some member always
 * qualifies.
 */
export function sessionCap(total: number, members: number, factor: number): number {
  const avg = (total + 1) / members;
  return Math.max(Math.ceil(avg), Math.floor(factor * avg));
}

/**
 * The best HRW member for `sessionId` among eligible members holding at most `cap(total, n)-1`
 * sessions. Undefined when nothing is eligible (or, with `cap`, nothing is under it).
 */
function pickUnder<N extends { id: string }>(
  sessionId: string,
  pool: ReplicaPool<N>,
  loadOf: (id: string) => number,
  capOf: (total: number, n: number) => number,
): N | undefined {
  const n = pool.eligibleCount;
  if (n === 0) return undefined;
  let total = 0;
  for (const m of pool.eligibleMembers()) total += loadOf(m.node.id);
  const cap = capOf(total, n);
  return bestHrw(keyHash(sessionId), pool, (m) => loadOf(m.node.id) + 1 <= cap)?.node;
}

/** Bounded-load HRW placement; `factor >= 1`. */
export function placeSession<N extends { id: string }>(
  sessionId: string,
  pool: ReplicaPool<N>,
  loadOf: (id: string) => number,
  factor: number,
): N | undefined {
  if (!Number.isFinite(factor) || factor < 1) throw new RangeError("factor must be a finite number >= 1");
  return pickUnder(sessionId, pool, loadOf, (total, n) => sessionCap(total, n, factor));
}

/** Exclusive placement: the best HRW member that holds no session at all. */
export function placeExclusiveSession<N extends { id: string }>(
  sessionId: string,
  pool: ReplicaPool<N>,
  loadOf: (id: string) => number,
): N | undefined {
  return pickUnder(sessionId, pool, loadOf, () => 1);
}
