import type { SessionPlacement } from "@fame/state";
import { principalOf } from "./session-table.js";

const SEP = "\u0000";
/** a principal's count at or past its limit is recounted at most this often */
const RECOUNT_MS = 1000;

interface Indexed {
  byReplica: string;
  byPrincipal: string;
  lastSeen: number;
}

/**
 * What the cluster's session placements add up to: per pool, the sessions on each replica and
 * the sessions of each principal, from the SessionStore's watched cache (every sentinel's
 * placements, this one's included). A sentinel's own SessionTable knows only the sessions it
 * placed, but an exclusive pool (one session per replica) and a principal's share of a pool are
 * promises of the cluster: placement reads these counts too. A record idle past the pool's TTL
 * does not count, since a sentinel that died leaves its records behind until the bucket's max
 * age. Two sentinels placing at the same moment can still both succeed within the store's
 * propagation delay (milliseconds); a KV claim per replica would close that, at the cost of a
 * round trip before the first frame of every exclusive session.
 */
export class ClusterSessionCounts {
  private readonly records = new Map<string, Indexed>();
  private readonly byReplica = new Map<string, Set<string>>();
  private readonly byPrincipal = new Map<string, Set<string>>();
  /** fresh counts of principals at or past a limit, so a client at its share costs one count a second */
  private readonly recounted = new Map<string, { at: number; count: number }>();

  /** a placement was recorded, moved or removed (`placement` undefined) under store key `key` */
  update(key: string, placement: SessionPlacement | undefined): void {
    const old = this.records.get(key);
    if (old !== undefined) {
      this.records.delete(key);
      unindex(this.byReplica, old.byReplica, key);
      unindex(this.byPrincipal, old.byPrincipal, key);
    }
    const at = key.indexOf(SEP);
    if (placement === undefined || at <= 0) return;
    const address = key.slice(0, at);
    const entry: Indexed = {
      byReplica: `${address}${SEP}${placement.replicaSystemId}`,
      byPrincipal: `${address}${SEP}${principalOf(placement.owner)}`,
      lastSeen: placement.lastSeen,
    };
    this.records.set(key, entry);
    index(this.byReplica, entry.byReplica, key);
    index(this.byPrincipal, entry.byPrincipal, key);
  }

  /** live sessions on `replicaId` of the pool at `address`, every sentinel's */
  onReplica(address: string, replicaId: string, ttlMs: number, now: number): number {
    const keys = this.byReplica.get(`${address}${SEP}${replicaId}`);
    if (keys === undefined) return 0;
    let n = 0;
    for (const key of keys) if (this.live(key, ttlMs, now)) n++;
    return n;
  }

  /**
   * Live sessions of `principal` in the pool at `address`, every sentinel's, counted up to
   * `limit` (what the caller compares with): below it the number of records answers at once.
   */
  ofPrincipal(address: string, principal: string, ttlMs: number, now: number, limit: number): number {
    const id = `${address}${SEP}${principal}`;
    const keys = this.byPrincipal.get(id);
    if (keys === undefined) return 0;
    if (keys.size < limit) return keys.size;
    const memo = this.recounted.get(id);
    if (memo !== undefined && now - memo.at < RECOUNT_MS) return memo.count;
    let n = 0;
    for (const key of keys) {
      if (this.live(key, ttlMs, now)) n++;
      if (n >= limit) break;
    }
    // remembered only at the limit: a count below it must see the next session at once
    if (n >= limit) {
      if (this.recounted.size >= 10_000) this.recounted.clear();
      this.recounted.set(id, { at: now, count: n });
    } else this.recounted.delete(id);
    return n;
  }

  get size(): number {
    return this.records.size;
  }

  private live(key: string, ttlMs: number, now: number): boolean {
    const r = this.records.get(key);
    return r !== undefined && now - r.lastSeen < ttlMs;
  }
}

function index(by: Map<string, Set<string>>, id: string, key: string): void {
  let keys = by.get(id);
  if (keys === undefined) {
    keys = new Set();
    by.set(id, keys);
  }
  keys.add(key);
}

function unindex(by: Map<string, Set<string>>, id: string, key: string): void {
  const keys = by.get(id);
  if (keys === undefined) return;
  keys.delete(key);
  if (keys.size === 0) by.delete(id);
}
