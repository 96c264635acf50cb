import type { BucketEntry, BucketListener } from "./bucket.js";

/**
 * The local copy of a bucket: entries by logical key, listeners, a bound on size, and a sweep
 * of values past the bucket's max age (JetStream drops aged-out values without telling
 * watchers, so the cache ages them out itself).
 */
export class BucketCache<V> {
  private readonly map = new Map<string, BucketEntry<V>>();
  private readonly listeners = new Set<BucketListener<V>>();
  private timer: NodeJS.Timeout | undefined;
  /** keys not cached because the cache was full */
  dropped = 0;
  /**
   * Until when the cache is known to follow the backend (wall clock). A value is aged out only
   * if it is older than the max age at that moment: while a watch is stalled, a value's
   * refreshes may be on their way, and ageing it out would forget a live record (a node of
   * another sentinel, whose channels would move). Default: always current.
   */
  private currentAt: () => number = Date.now;

  constructor(
    private readonly maxEntries: number,
    private readonly maxAgeMs: number,
    private readonly onListenerError: (err: unknown) => void,
  ) {}

  get size(): number {
    return this.map.size;
  }

  get(key: string): BucketEntry<V> | undefined {
    return this.map.get(key);
  }

  entries(): IterableIterator<[string, BucketEntry<V>]> {
    return this.map.entries();
  }

  keys(): IterableIterator<string> {
    return this.map.keys();
  }

  /**
   * Applies a value seen in the backend; an older revision than the cached one is ignored,
   * unless `replace` (a watch's initial values are the truth, even if a recreated bucket
   * numbers revisions lower).
   */
  set(key: string, entry: BucketEntry<V>, replace = false): void {
    const old = this.map.get(key);
    if (old !== undefined && (replace ? old.revision === entry.revision : old.revision >= entry.revision))
      return;
    if (old === undefined && this.map.size >= this.maxEntries) {
      this.dropped++;
      return;
    }
    this.map.set(key, entry);
    this.emit(key, entry);
  }

  /** applies a delete seen at `revision` (undefined: unconditional) */
  remove(key: string, revision?: number): void {
    const old = this.map.get(key);
    if (old === undefined) return;
    if (revision !== undefined && old.revision > revision) return;
    this.map.delete(key);
    this.emit(key, undefined);
  }

  onChange(cb: BucketListener<V>): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  /** how the cache learns until when it followed the backend (see currentAt) */
  followedUntil(clock: () => number): void {
    this.currentAt = clock;
  }

  /** removes values older than the max age; runs on a timer once started */
  sweep(now = Date.now()): void {
    const cutoff = Math.min(now, this.currentAt()) - this.maxAgeMs;
    for (const [key, e] of this.map) {
      if (e.at < cutoff) {
        this.map.delete(key);
        this.emit(key, undefined);
      }
    }
  }

  startSweeping(): void {
    if (this.timer !== undefined) return;
    const every = Math.min(Math.max(Math.floor(this.maxAgeMs / 4), 250), 60_000);
    this.timer = setInterval(() => this.sweep(), every);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }

  private emit(key: string, entry: BucketEntry<V> | undefined): void {
    for (const cb of this.listeners) {
      try {
        cb(key, entry);
      } catch (err) {
        // a listener's bug must not stop the watch that feeds every other listener
        this.onListenerError(err);
      }
    }
  }
}
