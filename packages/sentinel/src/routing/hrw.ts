import { hrwScore, keyHash, memberHash } from "./hash.js";
import type { PoolMember, ReplicaPool } from "./replica-pool.js";

/**
 * Rendezvous (highest random weight) hashing: every member gets a score for the key and the
 * highest wins. When a member leaves only the keys it won move, about 1/N of them, which is
 * what makes it suitable for session affinity.
 */

/** Higher score first; equal scores (a 32-bit collision) fall back to the id so order is total. */
function better(aScore: number, aId: string, bScore: number, bId: string): boolean {
  return aScore !== bScore ? aScore > bScore : aId < bId;
}

/** All members ordered by their HRW score for `key`, best first. Does not modify `members`. */
export function hrwRank<N extends { id: string }>(key: string, members: readonly N[]): N[] {
  const k = keyHash(key);
  const scored = members.map((node) => ({ node, score: hrwScore(k, memberHash(node.id)) }));
  scored.sort((a, b) => (better(a.score, a.node.id, b.score, b.node.id) ? -1 : 1));
  return scored.map((s) => s.node);
}

/**
 * The eligible member with the best HRW score for the key hashed to `k` (see `keyHash`), among
 * those `accept` lets through, in one pass. Undefined when none qualifies.
 */
export function bestHrw<N extends { id: string }>(
  k: number,
  pool: ReplicaPool<N>,
  accept?: (member: PoolMember<N>) => boolean,
): PoolMember<N> | undefined {
  let best: PoolMember<N> | undefined;
  let bestScore = 0;
  for (const m of pool.eligibleMembers()) {
    if (accept !== undefined && !accept(m)) continue;
    const score = hrwScore(k, m.hash);
    if (best === undefined || better(score, m.node.id, bestScore, best.node.id)) {
      best = m;
      bestScore = score;
    }
  }
  return best;
}

/** The eligible pool member with the best HRW score for `key`, in one pass. */
export function pickHrw<N extends { id: string }>(key: string, pool: ReplicaPool<N>): N | undefined {
  return bestHrw(keyHash(key), pool)?.node;
}

/**
 * Consistent hashing with bounded loads over HRW order: the first member (best score first)
 * whose load stays within `cap = ceil(factor × (total + 1) / n)` once this key is placed on it,
 * i.e. `load + 1 <= cap`. Counting the new key in the average guarantees a member qualifies
 * whenever `factor >= 1`, and no member ever exceeds the cap when loads follow the picks.
 *
 * The best-scoring member among those under the cap is exactly the first under-cap member in
 * HRW order, so there is no sort per pick.
 */
export function pickHrwBounded<N extends { id: string }>(
  key: string,
  pool: ReplicaPool<N>,
  loadOf: (node: N) => number,
  factor: number,
): N | undefined {
  if (!Number.isFinite(factor) || factor < 1) throw new RangeError(`factor must be a finite number >= 1`);
  const n = pool.eligibleCount;
  if (n === 0) return undefined;
  let total = 0;
  for (const m of pool.eligibleMembers()) total += loadOf(m.node);
  const cap = Math.ceil((factor * (total + 1)) / n);
  const k = keyHash(key);
  // The fallback is only reached when loadOf lies (e.g. negative or changing loads): prefer plain HRW to nothing.
  return (bestHrw(k, pool, (m) => loadOf(m.node) + 1 <= cap) ?? bestHrw(k, pool))?.node;
}
