/**
 * Token buckets keyed by a string (a remote IP), in a map of bounded size.
 *
 * Each key may take `capacity` tokens at once and gets `ratePerMin` back per
 * minute, continuously. A refused attempt costs nothing, so a client that waits
 * gets through again as soon as one token has refilled.
 *
 * Memory is bounded by `maxKeys`: the map is in least-recently-used order and
 * the oldest key is dropped when a new one arrives at the bound. A dropped key
 * starts again with a full bucket, which lets an attacker with more than
 * `maxKeys` addresses reset buckets; that attacker can open connections from
 * many addresses anyway, so the per-address limit was never the defence there.
 */
export interface TokenBucketOptions {
  /** tokens added back per minute */
  ratePerMin: number;
  /** most tokens a key can hold (the burst); default ratePerMin */
  capacity?: number;
  /** keys tracked at most; default 10 000 */
  maxKeys?: number;
  now?: () => number;
}

interface Bucket {
  tokens: number;
  /** ms timestamp of the last refill */
  at: number;
}

export class TokenBucketLimiter {
  readonly ratePerMin: number;
  readonly capacity: number;
  readonly maxKeys: number;
  private readonly buckets = new Map<string, Bucket>();
  private readonly now: () => number;

  constructor(opts: TokenBucketOptions) {
    if (!(opts.ratePerMin > 0) || !Number.isFinite(opts.ratePerMin))
      throw new RangeError("ratePerMin must be a positive number");
    this.ratePerMin = opts.ratePerMin;
    this.capacity = opts.capacity ?? opts.ratePerMin;
    if (!(this.capacity >= 1)) throw new RangeError("capacity must be at least 1");
    this.maxKeys = opts.maxKeys ?? 10_000;
    if (!Number.isInteger(this.maxKeys) || this.maxKeys < 1)
      throw new RangeError("maxKeys must be a positive integer");
    this.now = opts.now ?? Date.now;
  }

  /** keys currently tracked */
  get size(): number {
    return this.buckets.size;
  }

  /** takes one token for `key`; false when its bucket is empty */
  tryTake(key: string): boolean {
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (bucket) {
      this.buckets.delete(key); // re-inserted below: most recently used last
      const refill = ((now - bucket.at) / 60_000) * this.ratePerMin;
      if (refill > 0) {
        bucket.tokens = Math.min(this.capacity, bucket.tokens + refill);
        bucket.at = now;
      }
    } else {
      if (this.buckets.size >= this.maxKeys) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
      bucket = { tokens: this.capacity, at: now };
    }
    this.buckets.set(key, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** ms until `key` has a token again (0 when it has one now) */
  retryAfterMs(key: string): number {
    const bucket = this.buckets.get(key);
    if (!bucket) return 0;
    const tokens = bucket.tokens + ((this.now() - bucket.at) / 60_000) * this.ratePerMin;
    if (tokens >= 1) return 0;
    return Math.ceil(((1 - tokens) / this.ratePerMin) * 60_000);
  }
}
