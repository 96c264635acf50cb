/**
 * Which replica each session of one pool is on. Sessions are named by the client (envelope
 * meta `session-id`), so the table is bounded: least recently used sessions are evicted
 * beyond `maxEntries`, and a session unused for `ttlMs` is forgotten.
 *
 * The Map doubles as the LRU list: a touched entry is re-inserted at the end, so iteration
 * order is last-use order. That makes eviction O(1) and lets the sweep stop at the first
 * entry that has not expired.
 */

import { countDown, countUp } from "../keyed-counts.js";

/** the principal part of a session owner (`principal\0instance`; an owner without one is its own) */
export function principalOf(owner: string): string {
  const at = owner.indexOf("\u0000");
  return at < 0 ? owner : owner.slice(0, at);
}

export interface SessionEntry {
  readonly sessionId: string;
  /**
   * Who created the session (the client's principal and process instance, which outlive a
   * reconnect): a session id is a name, not a key, so only its owner may route under it, end it
   * or move it (anyone else learning the id gets session_not_owned).
   */
  readonly owner: string;
  /** the principal part of `owner`, kept for the per-principal count */
  readonly principal: string;
  /** undefined once its replica left: the next request places the session again */
  replicaId: string | undefined;
  readonly createdAt: number;
  lastUsed: number;
  /** requests routed under this session (hits and the placing request) */
  requests: number;
}

export interface SessionTableOptions {
  /** idle time after which a session is forgotten */
  ttlMs: number;
  maxEntries: number;
  now?: () => number;
  /** a session left the table idle past its ttl, or evicted (not ended, not orphaned) */
  onDropped?: (sessionId: string) => void;
}

/** How sessions left the table, for the status page and metrics. */
export interface SessionTableCounts {
  ended: number;
  expired: number;
  evicted: number;
  /** sessions whose replica left (each is placed again on its next request) */
  orphaned: number;
}

export class SessionTable {
  readonly counts: SessionTableCounts = { ended: 0, expired: 0, evicted: 0, orphaned: 0 };
  private readonly entries = new Map<string, SessionEntry>();
  private readonly byReplica = new Map<string, Set<string>>();
  /** sessions per owner (principal and instance): the per-client cap of exclusive pools reads this */
  private readonly byOwner = new Map<string, number>();
  /** sessions per principal, all its processes: the per-principal share reads this */
  private readonly byPrincipal = new Map<string, number>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly onDropped: ((sessionId: string) => void) | undefined;

  constructor(options: SessionTableOptions) {
    if (!Number.isFinite(options.ttlMs) || options.ttlMs <= 0) throw new RangeError("ttlMs must be > 0");
    if (!Number.isSafeInteger(options.maxEntries) || options.maxEntries < 1) {
      throw new RangeError("maxEntries must be a positive integer");
    }
    this.ttlMs = options.ttlMs;
    this.maxEntries = options.maxEntries;
    this.now = options.now ?? Date.now;
    this.onDropped = options.onDropped;
  }

  get size(): number {
    return this.entries.size;
  }

  /** the most sessions the table holds (`max_sessions`) */
  get capacity(): number {
    return this.maxEntries;
  }

  /** The live entry of a session, or undefined (an expired one is removed on the way). */
  get(sessionId: string): SessionEntry | undefined {
    const entry = this.entries.get(sessionId);
    if (entry === undefined) return undefined;
    if (this.now() - entry.lastUsed >= this.ttlMs) {
      this.drop(entry);
      this.counts.expired++;
      return undefined;
    }
    return entry;
  }

  /**
   * The owner of a live session, without touching it (authorization reads this for every
   * frame naming a session); undefined when the session is unknown or has expired.
   */
  ownerOf(sessionId: string): string | undefined {
    const entry = this.entries.get(sessionId);
    if (entry === undefined || this.now() - entry.lastUsed >= this.ttlMs) return undefined;
    return entry.owner;
  }

  /** sessions `owner` holds in this table (expired ones included until swept) */
  heldBy(owner: string): number {
    return this.byOwner.get(owner) ?? 0;
  }

  /** sessions the processes of `principal` hold in this table (expired ones included until swept) */
  heldByPrincipal(principal: string): number {
    return this.byPrincipal.get(principal) ?? 0;
  }

  /** A request used the session: it becomes the most recently used. */
  touch(entry: SessionEntry): void {
    entry.lastUsed = this.now();
    entry.requests++;
    // Re-inserting moves it to the end of the iteration (LRU) order.
    this.entries.delete(entry.sessionId);
    this.entries.set(entry.sessionId, entry);
  }

  /**
   * Put a session on a replica (new, or moved from elsewhere) and count this request. `owner`
   * names the client of a new session; an existing session keeps its owner (the authorize
   * stage has already refused anyone else).
   */
  place(sessionId: string, replicaId: string, owner: string): SessionEntry {
    let entry = this.entries.get(sessionId);
    if (entry === undefined) {
      while (this.entries.size >= this.maxEntries) {
        const oldest = this.entries.values().next().value;
        if (oldest === undefined) break;
        this.drop(oldest);
        this.counts.evicted++;
      }
      entry = {
        sessionId,
        owner,
        principal: principalOf(owner),
        replicaId: undefined,
        createdAt: this.now(),
        lastUsed: this.now(),
        requests: 0,
      };
      this.entries.set(sessionId, entry);
      countUp(this.byOwner, owner);
      countUp(this.byPrincipal, entry.principal);
    }
    this.unindex(entry);
    entry.replicaId = replicaId;
    this.index(entry);
    this.touch(entry);
    return entry;
  }

  /** The client ended the session; its replica no longer counts it. */
  end(sessionId: string): boolean {
    const entry = this.entries.get(sessionId);
    if (entry === undefined) return false;
    this.remove(entry);
    this.counts.ended++;
    return true;
  }

  /** Active sessions on a replica. */
  countFor(replicaId: string): number {
    return this.byReplica.get(replicaId)?.size ?? 0;
  }

  sessionsOf(replicaId: string): string[] {
    return [...(this.byReplica.get(replicaId) ?? [])];
  }

  /** Session count per replica (replicas without sessions are absent). */
  perReplica(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [id, set] of this.byReplica) out.set(id, set.size);
    return out;
  }

  /**
   * A replica left: its sessions lose their placement but stay known, so their next request
   * is placed again (and counted as moved). Other sessions are untouched. O(its sessions).
   */
  removeReplica(replicaId: string): number {
    const set = this.byReplica.get(replicaId);
    if (set === undefined) return 0;
    this.byReplica.delete(replicaId);
    for (const sessionId of set) {
      const entry = this.entries.get(sessionId);
      if (entry !== undefined) entry.replicaId = undefined;
    }
    this.counts.orphaned += set.size;
    return set.size;
  }

  /** Forget expired sessions, oldest first; stops at the first live one or after `maxWork`. */
  sweep(maxWork = 10_000): number {
    const now = this.now();
    let removed = 0;
    for (const entry of this.entries.values()) {
      if (removed >= maxWork || now - entry.lastUsed < this.ttlMs) break;
      this.drop(entry);
      this.counts.expired++;
      removed++;
    }
    return removed;
  }

  private drop(entry: SessionEntry): void {
    this.remove(entry);
    this.onDropped?.(entry.sessionId);
  }

  private remove(entry: SessionEntry): void {
    this.entries.delete(entry.sessionId);
    this.unindex(entry);
    countDown(this.byOwner, entry.owner);
    countDown(this.byPrincipal, entry.principal);
  }

  private index(entry: SessionEntry): void {
    if (entry.replicaId === undefined) return;
    let set = this.byReplica.get(entry.replicaId);
    if (set === undefined) {
      set = new Set();
      this.byReplica.set(entry.replicaId, set);
    }
    set.add(entry.sessionId);
  }

  private unindex(entry: SessionEntry): void {
    if (entry.replicaId === undefined) return;
    const set = this.byReplica.get(entry.replicaId);
    if (set === undefined) return;
    set.delete(entry.sessionId);
    if (set.size === 0) this.byReplica.delete(entry.replicaId);
  }
}
