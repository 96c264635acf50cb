/**
 * Session placements shared by the sentinels of a cluster. Each sentinel keeps its own
 * SessionTable (the LRU, the per-replica counts the placement reads); the SessionStore holds
 * where each session is and who owns it, so that a session opened through one sentinel is
 * found, owned and routed the same way through another. Reads come from the store's watched
 * cache (synchronous); writes go out without holding the frame, and a placement decided
 * elsewhere first wins (the local table follows it).
 */
import type { Logger } from "@fame/logger";
import type { SessionPlacement, SessionStore, Unsubscribe } from "@fame/state";
import { ClusterSessionCounts } from "./cluster-session-counts.js";
import type { SessionEntry, SessionTable } from "./session-table.js";

const SEP = "\u0000";

/** one store key per (pool, session): session ids are names chosen by clients, per pool */
export function sessionKey(address: string, sessionId: string): string {
  return `${address}${SEP}${sessionId}`;
}

export class SharedSessions {
  private readonly unsubscribe: Unsubscribe;
  /** every sentinel's sessions, counted per replica and per principal */
  readonly counts = new ClusterSessionCounts();

  constructor(
    private readonly store: SessionStore,
    /** the local table of a pool, when the pool keeps sessions */
    private readonly tableOf: (address: string) => { table: SessionTable; ttlMs: number } | undefined,
    private readonly log: Logger,
    /** false while the store cannot record writes: a refresh then waits instead of failing per call */
    private readonly available: () => boolean,
    /** wall clock: placements carry it from one sentinel process to another */
    private readonly now: () => number = Date.now,
  ) {
    this.unsubscribe = store.onChange((key, placement) => {
      this.counts.update(key, placement);
      this.onChange(key, placement);
    });
    // what the watch had delivered before this subscribed
    for (const [key, placement] of store.entries()) this.counts.update(key, placement);
  }

  /** live sessions on a replica of the pool, placed through any sentinel */
  onReplica(address: string, replicaId: string, ttlMs: number): number {
    return this.counts.onReplica(address, replicaId, ttlMs, this.now());
  }

  /** live sessions of a principal in the pool, placed through any sentinel (counted up to `limit`) */
  ofPrincipal(address: string, principal: string, ttlMs: number, limit: number): number {
    return this.counts.ofPrincipal(address, principal, ttlMs, this.now(), limit);
  }

  /** the owner of a session another sentinel placed (undefined: unknown or idle past the ttl) */
  ownerOf(address: string, sessionId: string, ttlMs: number): string | undefined {
    return this.live(address, sessionId, ttlMs)?.owner;
  }

  /** a session this sentinel has not seen, placed by another one: now in the local table */
  adopt(address: string, table: SessionTable, sessionId: string, ttlMs: number): SessionEntry | undefined {
    const placed = this.live(address, sessionId, ttlMs);
    if (placed === undefined) return undefined;
    return table.place(sessionId, placed.replicaSystemId, placed.owner);
  }

  /**
   * A new session placed (or one moved) here. A new one is created only if no sentinel placed
   * it meanwhile; if one did, its placement holds and the local table follows it.
   */
  record(address: string, table: SessionTable, entry: SessionEntry, isNew: boolean): void {
    const replicaId = entry.replicaId;
    if (replicaId === undefined || !this.available()) return;
    if (!isNew) {
      this.put(address, entry, replicaId);
      return;
    }
    const key = sessionKey(address, entry.sessionId);
    const placement: SessionPlacement = {
      replicaSystemId: replicaId,
      owner: entry.owner,
      lastSeen: this.now(),
    };
    this.quietly(
      this.store.place(key, placement).then((held) => {
        if (held.replicaSystemId === replicaId || held.owner !== entry.owner) return;
        const current = table.get(entry.sessionId);
        if (current?.replicaId === replicaId) table.place(entry.sessionId, held.replicaSystemId, held.owner);
      }),
      address,
    );
  }

  /** keeps a used session alive in the store, writing at most once per third of its ttl */
  touched(address: string, entry: SessionEntry, ttlMs: number): void {
    const placed = this.store.get(sessionKey(address, entry.sessionId));
    if ((placed !== undefined && this.now() - placed.lastSeen < ttlMs / 3) || !this.available()) return;
    if (entry.replicaId !== undefined) this.put(address, entry, entry.replicaId);
  }

  ended(address: string, sessionId: string): void {
    this.quietly(this.store.delete(sessionKey(address, sessionId)), address);
  }

  /**
   * This sentinel forgot a session (idle past its ttl, or evicted from a full table): its record
   * goes too, unless another sentinel has used it within the ttl (its refreshes keep it live).
   * Without this every session ever made stayed in the store, and in every sentinel's watched
   * cache, until the bucket's max age: one client making sessions could fill the caches.
   */
  dropped(address: string, sessionId: string, ttlMs: number): void {
    if (!this.available()) return;
    const key = sessionKey(address, sessionId);
    const placed = this.store.get(key);
    if (placed === undefined || this.now() - placed.lastSeen < ttlMs) return;
    this.quietly(this.store.delete(key), address);
  }

  close(): void {
    this.unsubscribe();
  }

  private put(address: string, entry: SessionEntry, replicaId: string): void {
    const placement: SessionPlacement = {
      replicaSystemId: replicaId,
      owner: entry.owner,
      lastSeen: this.now(),
    };
    this.quietly(this.store.put(sessionKey(address, entry.sessionId), placement), address);
  }

  private live(address: string, sessionId: string, ttlMs: number): SessionPlacement | undefined {
    const placed = this.store.get(sessionKey(address, sessionId));
    return placed !== undefined && this.now() - placed.lastSeen < ttlMs ? placed : undefined;
  }

  /** another sentinel moved or ended a session this one holds: follow it */
  private onChange(key: string, placement: SessionPlacement | undefined): void {
    const at = key.indexOf(SEP);
    if (at <= 0) return;
    const address = key.slice(0, at);
    const sessionId = key.slice(at + 1);
    const local = this.tableOf(address);
    if (local === undefined) return;
    const entry = local.table.get(sessionId);
    if (entry === undefined) return;
    if (placement === undefined) local.table.end(sessionId);
    else if (placement.owner === entry.owner && placement.replicaSystemId !== entry.replicaId)
      local.table.place(sessionId, placement.replicaSystemId, placement.owner);
  }

  private quietly(pending: Promise<unknown>, address: string): void {
    pending.catch((err: unknown) => {
      // unreachable store: the placement stays local until the next write of this session
      this.log.debug({ address, err: (err as Error).message }, "session placement not recorded");
    });
  }
}
