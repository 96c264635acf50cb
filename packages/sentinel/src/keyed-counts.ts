/**
 * Counts per key in a Map, an entry only while its count is above zero: what the sentinel's
 * per-owner and per-principal tallies share (sessions held, key requests waiting).
 */
export function countUp(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

/** one less for `key`; the entry goes at zero (a key never counted stays absent) */
export function countDown(counts: Map<string, number>, key: string): void {
  const n = counts.get(key);
  if (n === undefined) return;
  if (n <= 1) counts.delete(key);
  else counts.set(key, n - 1);
}
