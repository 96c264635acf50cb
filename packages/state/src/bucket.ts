/**
 * What a store needs from a backend: one key/value bucket with a local cache (sync reads),
 * async writes, and compare-and-set. Keys are logical (the stores' own strings); a backend
 * encodes them as it must. Memory and NATS implement it, so the stores' logic is written once.
 */

export interface BucketEntry<V> {
  readonly value: V;
  /** the backend's revision of this value, for compare-and-set */
  readonly revision: number;
  /** when the value was written (ms epoch, the backend's clock) */
  readonly at: number;
}

export type BucketListener<V> = (key: string, entry: BucketEntry<V> | undefined) => void;

export interface BucketSpec<V> {
  /** short name: "pins", "nodes", … (the backend scopes it by cluster) */
  name: string;
  /** values older than this are gone (the bucket's max_age) */
  maxAgeMs: number;
  /** largest encoded value accepted, in bytes */
  maxValueBytes: number;
  /** false: no watch, no cache (write-mostly buckets such as tickets) */
  cached: boolean;
  /** most cached entries; past it new keys are not cached (reads miss, writes still go through) */
  maxEntries: number;
  /** the number of parts of a logical key (joined by "\u0000") */
  keyParts: number;
  /** checks a decoded value's shape: values read from the backend are not trusted blindly */
  parse(raw: unknown): V | undefined;
}

export interface Bucket<V> {
  readonly name: string;
  /** the cached entry (sync; undefined when unknown or not cached) */
  peek(key: string): BucketEntry<V> | undefined;
  entries(): IterableIterator<[string, BucketEntry<V>]>;
  readonly size: number;
  /** a fresh read from the backend, for decisions */
  read(key: string): Promise<BucketEntry<V> | undefined>;
  put(key: string, value: V): Promise<number>;
  /** the new revision, or undefined when the key already holds a value */
  create(key: string, value: V): Promise<number | undefined>;
  /** the new revision, or undefined when the key is no longer at `revision` */
  update(key: string, value: V, revision: number): Promise<number | undefined>;
  /** with `revision`: only when still at it (false otherwise) */
  delete(key: string, revision?: number): Promise<boolean>;
  onChange(cb: BucketListener<V>): () => void;
}

/** logical compound keys: parts joined by NUL, which no sid, cid or address contains */
export const KEY_SEP = "\u0000";
