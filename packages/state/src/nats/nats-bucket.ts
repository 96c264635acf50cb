import type { Logger } from "@fame/logger";
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import type { KV, KvEntry, KvWatchEntry } from "@nats-io/kv";
import type { QueuedIterator } from "@nats-io/nats-core";
import { type Bucket, type BucketEntry, type BucketListener, type BucketSpec, KEY_SEP } from "../bucket.js";
import { BucketCache } from "../bucket-cache.js";
import { StateUnavailableError } from "../errors.js";
import { decodeKey, encodeKeyPart } from "../key-codec.js";
import type { NatsLink } from "./nats-link.js";
import { WatchProgress } from "./watch-progress.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** how long a watch may take to deliver a bucket's current values before it counts as ready */
const READY_TIMEOUT_MS = 10_000;
/** starting a watch makes a consumer (a raft write in a cluster): slower than a value write */
const WATCH_TIMEOUT_MS = 2_500;

function isConflict(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence ||
      err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

/**
 * One JetStream KV bucket: writes go to NATS (bounded by the timeout, StateUnavailableError
 * when NATS cannot answer); a watch feeds the local cache that sync reads use.
 */
export class NatsBucket<V> implements Bucket<V> {
  readonly name: string;
  private readonly cache: BucketCache<V>;
  private watcher: QueuedIterator<KvWatchEntry> | undefined;
  /** counts watch() calls, so a slow start that was overtaken steps aside */
  private generation = 0;
  /** watch() calls in flight: the running watch stays until one of them replaces it */
  private starting = 0;
  /** entries the watch refused (bad key or value) */
  rejected = 0;
  /** how far the running watch has followed the stream (see checkWatch) */
  private readonly progress = new WatchProgress();
  /** when the watch last showed it follows the stream: it delivered, or a check found it current */
  private followedAt = Date.now();

  constructor(
    private readonly kv: KV,
    private readonly spec: BucketSpec<V>,
    private readonly link: NatsLink,
    private readonly timeoutMs: number,
    private readonly log: Logger,
  ) {
    this.name = spec.name;
    this.cache = new BucketCache<V>(spec.maxEntries, spec.maxAgeMs, (err) =>
      log.error({ err, bucket: spec.name }, "shared state listener failed"),
    );
    this.cache.followedUntil(() => this.followedAt);
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
    const k = this.encode(key);
    const e = await this.op("read", () => this.kv.get(k));
    return e === null ? undefined : this.entryOf(e);
  }

  // async: a value over the bucket's limit (value() throws) is a rejected promise like any
  // failure, never a throw out of a caller's timer (the node directory's refresh)
  async put(key: string, value: V): Promise<number> {
    const k = this.encode(key);
    const data = this.value(value);
    return this.op("put", () => this.kv.put(k, data, { timeout: this.timeoutMs }));
  }

  async create(key: string, value: V): Promise<number | undefined> {
    const k = this.encode(key);
    const data = this.value(value);
    return this.op("create", () => this.kv.create(k, data), true);
  }

  async update(key: string, value: V, revision: number): Promise<number | undefined> {
    const k = this.encode(key);
    const data = this.value(value);
    return this.op("update", () => this.kv.update(k, data, revision, this.timeoutMs), true);
  }

  async delete(key: string, revision?: number): Promise<boolean> {
    const k = this.encode(key);
    const opts = revision === undefined ? {} : { previousSeq: revision };
    const done = await this.op("delete", () => this.kv.delete(k, opts).then(() => true), true);
    return done === true;
  }

  /**
   * (Re)starts the watch; resolves once the cache holds the bucket's current values. After a
   * reconnect the old cache is reconciled: keys the new watch does not deliver are removed.
   * `quiet`: a failure rejects without marking the state unavailable (a precautionary restart,
   * while the old watch may well still be current).
   */
  async watch(quiet = false): Promise<void> {
    if (!this.spec.cached) return;
    const generation = ++this.generation;
    this.starting++;
    let iter: QueuedIterator<KvWatchEntry>;
    let lastSeq: number;
    try {
      ({ iter, lastSeq } = await this.startWatch(quiet));
    } finally {
      this.starting--;
    }
    if (generation !== this.generation || this.link.closed) {
      // a later watch() (or close) took over while this one was starting
      iter.stop();
      return;
    }
    // the old watch fed the cache until now (its consumer may well be alive): replace it only
    // once the new one exists, so a failed restart leaves no gap
    const old = this.watcher;
    this.watcher = iter;
    this.progress.restarted();
    old?.stop();
    this.cache.startSweeping();
    const seen = new Set<string>();
    let initial = true;
    let markReady: () => void = () => {};
    const ready = new Promise<void>((resolve) => {
      markReady = resolve;
    });
    const finishInitial = () => {
      if (!initial) return;
      initial = false;
      for (const key of [...this.cache.keys()]) if (!seen.has(key)) this.cache.remove(key);
      // the current values are in: the cache follows the stream as of now
      this.followedAt = Date.now();
      markReady();
    };
    if (lastSeq === 0) finishInitial();
    void (async () => {
      try {
        for await (const e of iter) {
          if (this.watcher === iter) {
            this.progress.saw(e.revision);
            this.followedAt = Date.now();
          }
          const key = this.apply(e, initial);
          if (initial) {
            if (key !== undefined) seen.add(key);
            if (e.isUpdate || e.revision >= lastSeq) finishInitial();
          }
        }
      } catch (err) {
        this.log.debug({ err, bucket: this.name }, "shared state watch failed");
      }
      // a watch that ends without being replaced or closed (its consumer went with a NATS
      // node) leaves the cache stale: start another; the status flips only if that fails
      if (!this.link.closed && this.watcher === iter && this.starting === 0) {
        this.watcher = undefined;
        this.log.info({ bucket: this.name }, "shared state watch ended; watching again");
        this.watch().catch(() => this.link.failed(`${this.name} watch lost`));
      }
    })();
    const timer = setTimeout(() => {
      if (initial) this.log.warn({ bucket: this.name }, "shared state watch: current values took too long");
      finishInitial();
    }, READY_TIMEOUT_MS);
    await ready;
    clearTimeout(timer);
  }

  /**
   * Compares the running watch with the stream (one stream info request) and replaces a watch
   * that has fallen silent (WatchProgress). Quiet: a failed check or restart leaves the state's
   * status alone; the next check tries again.
   */
  async checkWatch(): Promise<void> {
    if (!this.spec.cached || this.watcher === undefined || this.starting > 0 || this.link.closed) return;
    const watcher = this.watcher;
    const status = await this.op("watch check", () => this.kv.status(), false, this.timeoutMs, true);
    if (this.watcher !== watcher || this.starting > 0) return;
    const lastSeq = status.streamInfo.state.last_seq;
    if (this.progress.caughtUp(lastSeq)) this.followedAt = Date.now();
    if (!this.progress.stalled(lastSeq)) return;
    this.log.info({ bucket: this.name }, "shared state watch fell behind its stream; watching again");
    await this.watch(true);
  }

  /** the bucket's last sequence, then a new watch; a watch that answers too late is stopped */
  private async startWatch(quiet: boolean): Promise<{ iter: QueuedIterator<KvWatchEntry>; lastSeq: number }> {
    const slow = Math.max(this.timeoutMs, WATCH_TIMEOUT_MS);
    const status = await this.op("watch status", () => this.kv.status(), false, slow, quiet);
    const state = status.streamInfo.state;
    const lastSeq = state.messages === 0 ? 0 : state.last_seq;
    const pending = this.kv.watch();
    try {
      return { iter: await this.op("watch", () => pending, false, slow, quiet), lastSeq };
    } catch (err) {
      // its consumer and subscription would otherwise live on, unread
      pending.then(
        (late) => late.stop(),
        () => {},
      );
      throw err;
    }
  }

  close(): void {
    this.generation++;
    this.watcher?.stop();
    this.watcher = undefined;
    this.cache.stop();
  }

  private apply(e: KvWatchEntry, initial: boolean): string | undefined {
    const parts = decodeKey(e.key, this.spec.keyParts);
    if (parts === undefined) {
      this.rejected++;
      return undefined;
    }
    const key = parts.join(KEY_SEP);
    if (e.operation !== "PUT") {
      this.cache.remove(key, initial ? undefined : e.revision);
      return key;
    }
    const entry = this.entryOf(e);
    if (entry === undefined) {
      this.rejected++;
      return undefined;
    }
    this.cache.set(key, entry, initial);
    return key;
  }

  private entryOf(e: KvEntry): BucketEntry<V> | undefined {
    if (e.operation !== "PUT" || e.length > this.spec.maxValueBytes) return undefined;
    let raw: unknown;
    try {
      raw = JSON.parse(decoder.decode(e.value));
    } catch {
      return undefined;
    }
    const value = this.spec.parse(raw);
    return value === undefined ? undefined : { value, revision: e.revision, at: e.created.getTime() };
  }

  private encode(key: string): string {
    const parts = this.spec.keyParts === 1 ? [key] : splitKey(key, this.spec.keyParts);
    return parts.map(encodeKeyPart).join(".");
  }

  private value(value: V): Uint8Array {
    const data = encoder.encode(JSON.stringify(value));
    if (data.length > this.spec.maxValueBytes) {
      throw new RangeError(`${this.name} value of ${data.length} bytes is over ${this.spec.maxValueBytes}`);
    }
    return data;
  }

  /**
   * Runs one NATS call: refused at once while disconnected, bounded by the timeout, NATS
   * failures turned into StateUnavailableError. With `conflictIsAnswer`, a revision conflict
   * resolves with undefined (the decision went the other way). `quiet`: a failure is only
   * thrown, not reported to the link as the state being unavailable.
   */
  private async op<T>(
    what: string,
    fn: () => Promise<T>,
    conflictIsAnswer = false,
    timeoutMs = this.timeoutMs,
    quiet = false,
  ): Promise<T> {
    if (!this.link.connected || this.link.closed) {
      throw new StateUnavailableError(`shared state unavailable: NATS not connected (${this.name} ${what})`);
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StateUnavailableError(`shared state unavailable: ${this.name} ${what} timed out`)),
        timeoutMs,
      );
    });
    try {
      const result = await Promise.race([fn(), timeout]);
      this.link.succeeded();
      return result;
    } catch (err) {
      if (conflictIsAnswer && isConflict(err)) return undefined as T;
      const failure =
        err instanceof StateUnavailableError
          ? err
          : new StateUnavailableError(
              `shared state unavailable: ${this.name} ${what}: ${(err as Error).message}`,
              {
                cause: err,
              },
            );
      if (!quiet) this.link.failed(failure.message);
      throw failure;
    } finally {
      clearTimeout(timer);
    }
  }
}

function splitKey(key: string, count: number): string[] {
  const parts: string[] = [];
  let rest = key;
  for (let i = 1; i < count; i++) {
    const at = rest.indexOf(KEY_SEP);
    if (at < 0) throw new TypeError("state key has too few parts");
    parts.push(rest.slice(0, at));
    rest = rest.slice(at + 1);
  }
  parts.push(rest);
  return parts;
}
