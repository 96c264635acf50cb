import type { Bucket, BucketEntry, BucketListener, BucketSpec } from "../bucket.js";
import { BucketCache } from "../bucket-cache.js";
import { StateUnavailableError } from "../errors.js";

interface Shared {
  readonly map: Map<string, BucketEntry<unknown>>;
  revision: number;
  readonly views: Set<MemoryBucket<unknown>>;
}

/**
 * The memory backend's store: one map per bucket name. One hub per process is the single
 * sentinel's state; tests give several FabricStates one hub to play a cluster without NATS.
 */
export class MemoryHub {
  private readonly buckets = new Map<string, Shared>();

  /** @internal */
  shared(name: string): Shared {
    let s = this.buckets.get(name);
    if (s === undefined) {
      s = { map: new Map(), revision: 0, views: new Set() };
      this.buckets.set(name, s);
    }
    return s;
  }
}

/** A bucket held in process memory; writes reach every view on the hub before they resolve. */
export class MemoryBucket<V> implements Bucket<V> {
  readonly name: string;
  private readonly cache: BucketCache<V>;
  private readonly shared: Shared;

  constructor(
    hub: MemoryHub,
    private readonly spec: BucketSpec<V>,
    onListenerError: (err: unknown) => void,
  ) {
    this.name = spec.name;
    this.shared = hub.shared(spec.name);
    this.cache = new BucketCache<V>(spec.maxEntries, spec.maxAgeMs, onListenerError);
    if (spec.cached) {
      const now = Date.now();
      for (const [k, e] of this.shared.map) {
        if (e.at >= now - spec.maxAgeMs) this.cache.set(k, e as BucketEntry<V>);
      }
      this.shared.views.add(this as MemoryBucket<unknown>);
      this.cache.startSweeping();
    }
  }

  get size(): number {
    return this.cache.size;
  }

  peek(key: string): BucketEntry<V> | undefined {
    return this.cache.get(key);
  }

  entries(): IterableIterator<[string, BucketEntry<V>]> {
    return this.cache.entries();
  }

  onChange(cb: BucketListener<V>): () => void {
    return this.cache.onChange(cb);
  }

  async read(key: string): Promise<BucketEntry<V> | undefined> {
    return this.live(key) as BucketEntry<V> | undefined;
  }

  async put(key: string, value: V): Promise<number> {
    return this.write(key, value);
  }

  async create(key: string, value: V): Promise<number | undefined> {
    return this.live(key) === undefined ? this.write(key, value) : undefined;
  }

  async update(key: string, value: V, revision: number): Promise<number | undefined> {
    return this.live(key)?.revision === revision ? this.write(key, value) : undefined;
  }

  async delete(key: string, revision?: number): Promise<boolean> {
    const cur = this.live(key);
    if (revision !== undefined && cur?.revision !== revision) return false;
    this.shared.map.delete(key);
    const rev = ++this.shared.revision;
    for (const view of this.shared.views) view.cache.remove(key, rev);
    return true;
  }

  /** @internal detaches this view from the hub */
  close(): void {
    this.shared.views.delete(this as MemoryBucket<unknown>);
    this.cache.stop();
  }

  /** the stored entry unless it aged out (like a max_age bucket) */
  private live(key: string): BucketEntry<unknown> | undefined {
    const e = this.shared.map.get(key);
    if (e === undefined) return undefined;
    if (e.at < Date.now() - this.spec.maxAgeMs) {
      this.shared.map.delete(key);
      return undefined;
    }
    return e;
  }

  private write(key: string, value: V): number {
    const map = this.shared.map;
    if (!map.has(key) && map.size >= this.spec.maxEntries) {
      this.sweepShared();
      if (map.size >= this.spec.maxEntries)
        throw new StateUnavailableError(`state bucket ${this.name} is full`);
    }
    const entry: BucketEntry<V> = { value, revision: ++this.shared.revision, at: Date.now() };
    this.shared.map.set(key, entry);
    for (const view of this.shared.views) view.cache.set(key, entry);
    return entry.revision;
  }

  private sweepShared(): void {
    const cutoff = Date.now() - this.spec.maxAgeMs;
    for (const [k, e] of this.shared.map) if (e.at < cutoff) this.shared.map.delete(k);
  }
}
