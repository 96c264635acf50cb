/**
 * Requests forwarded to a replica and not yet answered, so that when the
 * replica dies its callers hear `replica_unavailable` at once instead of
 * waiting for their timeouts.
 */
export interface InflightEntry {
  requesterId: string;
  replicaId: string;
  corrId: string;
  /** id of the request envelope, echoed as refId in the nack */
  envelopeId: string;
  replyTo: string | undefined;
  deadline: number;
  /** the logical address it was routed through, when it went by way of a pool */
  address?: string | undefined;
}

export class InflightTracker {
  private readonly byKey = new Map<string, InflightEntry>();
  private readonly byReplica = new Map<string, Set<string>>();
  /** keys per requester: its count, and what to drop when it leaves, without a table scan */
  private readonly byRequester = new Map<string, Set<string>>();

  /**
   * `onRemove` hears of every entry that leaves, however it leaves (answered, its replica or
   * requester gone, expired, replaced), so load counted at `track` is always given back.
   */
  constructor(
    private readonly maxEntries = 1_000_000,
    private readonly onRemove?: (entry: InflightEntry) => void,
  ) {}

  private static key(requesterId: string, corrId: string): string {
    return `${requesterId}\u0000${corrId}`;
  }

  get size(): number {
    return this.byKey.size;
  }

  countFor(requesterId: string): number {
    return this.byRequester.get(requesterId)?.size ?? 0;
  }

  /** whether `n` more entries fit (a coalesced record is tracked whole or refused whole) */
  hasRoom(n: number): boolean {
    return this.byKey.size + n <= this.maxEntries;
  }

  /** false when the table is full: the caller refuses the request rather than lose track of it */
  track(entry: InflightEntry): boolean {
    const key = InflightTracker.key(entry.requesterId, entry.corrId);
    const old = this.byKey.get(key);
    if (old) this.remove(key, old);
    if (this.byKey.size >= this.maxEntries) return false;
    this.byKey.set(key, entry);
    addTo(this.byReplica, entry.replicaId, key);
    addTo(this.byRequester, entry.requesterId, key);
    return true;
  }

  /** the replica answered (finally) */
  complete(replicaId: string, requesterId: string, corrId: string): void {
    const key = InflightTracker.key(requesterId, corrId);
    const entry = this.byKey.get(key);
    if (entry && entry.replicaId === replicaId) this.remove(key, entry);
  }

  /** removes and returns everything routed to a replica that just left */
  takeAllFor(replicaId: string): InflightEntry[] {
    const keys = this.byReplica.get(replicaId);
    if (!keys) return [];
    const out: InflightEntry[] = [];
    for (const key of keys) {
      const entry = this.byKey.get(key);
      if (entry) {
        out.push(entry);
        this.remove(key, entry);
      }
    }
    this.byReplica.delete(replicaId);
    return out;
  }

  /** a requester left: its pending entries have nobody to answer */
  dropRequester(requesterId: string): void {
    const keys = this.byRequester.get(requesterId);
    if (!keys) return;
    for (const key of keys) {
      const entry = this.byKey.get(key);
      if (entry) this.remove(key, entry);
    }
  }

  /** forgets entries past their deadline; bounded work per call */
  sweep(now: number, maxWork = 10_000): number {
    let removed = 0;
    let seen = 0;
    for (const [key, entry] of this.byKey) {
      if (++seen > maxWork) break;
      if (entry.deadline <= now) {
        this.remove(key, entry);
        removed++;
      }
    }
    return removed;
  }

  private remove(key: string, entry: InflightEntry): void {
    this.byKey.delete(key);
    removeFrom(this.byReplica, entry.replicaId, key);
    removeFrom(this.byRequester, entry.requesterId, key);
    this.onRemove?.(entry);
  }
}

function addTo(index: Map<string, Set<string>>, id: string, key: string): void {
  let set = index.get(id);
  if (!set) {
    set = new Set();
    index.set(id, set);
  }
  set.add(key);
}

function removeFrom(index: Map<string, Set<string>>, id: string, key: string): void {
  const set = index.get(id);
  if (!set) return;
  set.delete(key);
  if (set.size === 0) index.delete(id);
}
