/**
 * Freshness of signed envelopes: a signature proves who sent an envelope, not that it is
 * the first time it arrives. A receiver refuses a signed envelope whose `ts` is outside the
 * clock-skew window (`stale`) or whose id it already saw from that sender (`replay`).
 *
 * Ids are remembered per sender in time buckets by `ts`: an id needs remembering only while
 * its `ts` is still inside the window, so whole buckets age out with it. Memory is bounded
 * by caps on ids per sender, on ids in all and on senders: when a sender's cap is reached its
 * oldest bucket goes and the sender's floor rises past it (anything older is refused as
 * stale, never taken for new); when the total or the sender table is full the longest-quiet
 * sender goes and the floor for unknown senders rises past its newest `ts`. Under a flood a
 * legitimate envelope may be refused as stale; a replay is never accepted. O(1) per envelope: two map lookups and a set
 * insert, no allocation but the set's own growth.
 */

export const DEFAULT_MAX_CLOCK_SKEW_MS = 60_000;

export type Freshness = "ok" | "stale" | "replay";

export interface FreshnessLimits {
  /** how far `ts` may be from the receiver's clock, either way (FAME_MAX_CLOCK_SKEW_MS) */
  skewMs: number;
  /** ids remembered per sender at most */
  maxIdsPerSender: number;
  /** ids remembered in all at most (about 100 bytes each) */
  maxIds: number;
  /** senders remembered at most */
  maxSenders: number;
}

export const DEFAULT_FRESHNESS_LIMITS: Readonly<FreshnessLimits> = Object.freeze({
  skewMs: DEFAULT_MAX_CLOCK_SKEW_MS,
  maxIdsPerSender: 262_144,
  maxIds: 1_048_576,
  maxSenders: 4096,
});

/** buckets per skew window: each holds the ids whose ts falls in one slice of it */
const BUCKETS_PER_SKEW = 8;

interface SenderWindow {
  /** envelopes with ts below this are refused: their ids may have been forgotten */
  floor: number;
  /** ids remembered, over all buckets */
  count: number;
  /** bucket number (ts / bucketMs) → ids; in creation order, which is ts order for a sane clock */
  buckets: Map<number, Set<string>>;
  /** the bucket the sender last used: when it changes the sender counts as recently active */
  lastBucket: number;
  newestTs: number;
}

export class FreshnessWindow {
  readonly limits: Readonly<FreshnessLimits>;
  readonly #bucketMs: number;
  readonly #senders = new Map<string, SenderWindow>();
  /** floor for a sender not (or no longer) in the table: the newest ts of any sender dropped */
  #unknownFloor = Number.NEGATIVE_INFINITY;
  #total = 0;

  constructor(limits: Partial<FreshnessLimits> = {}) {
    const l = { ...DEFAULT_FRESHNESS_LIMITS, ...limits };
    for (const [k, v] of Object.entries(l))
      if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${k} must be a positive integer`);
    this.limits = Object.freeze(l);
    this.#bucketMs = Math.max(1, Math.ceil(l.skewMs / BUCKETS_PER_SKEW));
  }

  /** senders tracked now */
  get senders(): number {
    return this.#senders.size;
  }

  /** ids remembered now */
  get size(): number {
    return this.#total;
  }

  /** checks `id` from `sender` (its verified sid) with timestamp `ts`, and remembers it if fresh */
  check(sender: string, id: string, ts: number, now: number): Freshness {
    const skew = this.limits.skewMs;
    if (!(ts >= now - skew && ts <= now + skew)) return "stale";
    let w = this.#senders.get(sender);
    if (w === undefined) {
      if (ts < this.#unknownFloor) return "stale";
      w = this.#admit(sender);
    } else if (ts < w.floor) return "stale";
    const b = Math.floor(ts / this.#bucketMs);
    let ids = w.buckets.get(b);
    if (ids === undefined) {
      this.#expire(w, now);
      ids = new Set();
      w.buckets.set(b, ids);
    } else if (ids.has(id)) return "replay";
    if (this.#total >= this.limits.maxIds) this.#dropQuietest(sender);
    if (w.count >= this.limits.maxIdsPerSender || this.#total >= this.limits.maxIds) {
      this.#dropOldestBucket(w, ids);
      // the bucket this id belongs to may have been the oldest: then it is too old to keep
      if (ts < w.floor) return "stale";
    }
    ids.add(id);
    w.count++;
    this.#total++;
    if (ts > w.newestTs) w.newestTs = ts;
    if (b !== w.lastBucket) {
      // re-inserted: the table's order is then roughly "longest quiet first"
      w.lastBucket = b;
      this.#senders.delete(sender);
      this.#senders.set(sender, w);
    }
    return "ok";
  }

  /**
   * Forgets every sender whose newest id has left the window: a copy of any id it sent is
   * refused as stale by the skew check alone. Called periodically, so a node that signed a few
   * envelopes long ago (a channel open, say) costs nothing here while it idles. Walks from the
   * longest-quiet sender and stops at the first still inside the window: O(senders forgotten).
   * Returns how many were forgotten.
   */
  sweep(now: number): number {
    const oldest = now - this.limits.skewMs;
    let forgotten = 0;
    for (const [sid, w] of this.#senders) {
      if (w.newestTs >= oldest) break;
      this.#senders.delete(sid);
      this.#total -= w.count;
      forgotten++;
    }
    return forgotten;
  }

  #admit(sender: string): SenderWindow {
    if (this.#senders.size >= this.limits.maxSenders) this.#dropQuietest(sender);
    const w: SenderWindow = {
      floor: this.#unknownFloor,
      count: 0,
      buckets: new Map(),
      lastBucket: Number.NaN,
      newestTs: Number.NEGATIVE_INFINITY,
    };
    this.#senders.set(sender, w);
    return w;
  }

  /** forgets the longest-quiet sender other than `current`; unknown senders' floor rises past it */
  #dropQuietest(current: string): void {
    for (const [sid, w] of this.#senders) {
      if (sid === current) continue;
      this.#senders.delete(sid);
      this.#total -= w.count;
      if (w.newestTs >= this.#unknownFloor) this.#unknownFloor = w.newestTs + 1;
      return;
    }
  }

  /** forgets buckets wholly older than the window: their ts are refused as stale anyway */
  #expire(w: SenderWindow, now: number): void {
    const oldest = Math.floor((now - this.limits.skewMs) / this.#bucketMs);
    for (const [b, ids] of w.buckets) {
      if (b >= oldest) break;
      w.buckets.delete(b);
      w.count -= ids.size;
      this.#total -= ids.size;
    }
  }

  /** makes room: the lowest bucket goes (not `keep`, unless it is the only one) and the floor rises past it */
  #dropOldestBucket(w: SenderWindow, keep: Set<string>): void {
    let lowest: number | undefined;
    for (const [b, ids] of w.buckets) if (ids !== keep && (lowest === undefined || b < lowest)) lowest = b;
    if (lowest === undefined) {
      // one bucket holds all of them: forgotten, so nothing up to the newest ts is taken again
      w.count -= keep.size;
      this.#total -= keep.size;
      keep.clear();
      w.floor = Math.max(w.floor, w.newestTs + 1);
      return;
    }
    const ids = w.buckets.get(lowest)!;
    w.buckets.delete(lowest);
    w.count -= ids.size;
    this.#total -= ids.size;
    w.floor = Math.max(w.floor, (lowest + 1) * this.#bucketMs);
  }
}
