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
}

export class InflightTracker {
  private readonly byKey = new Map<string, InflightEntry>();
  private readonly byReplica = new Map<string, Set<string>>();
  private readonly perRequester = new Map<string, number>();

  constructor(private readonly maxEntries = 1_000_000) {}

  private static key(requesterId: string, corrId: string): string {
    return `${requesterId}\u0000${corrId}`;
  }

  get size(): number {
    return this.byKey.size;
  }

  countFor(requesterId: string): number {
    return this.perRequester.get(requesterId) ?? 0;
  }

  /** false when the table is full: the caller refuses the request rather than lose track of it */
  track(entry: InflightEntry): boolean {
    const key = InflightTracker.key(entry.requesterId, entry.corrId);
    const old = this.byKey.get(key);
    if (old) this.remove(key, old);
    if (this.byKey.size >= this.maxEntries) return false;
    this.byKey.set(key, entry);
    let set = this.byReplica.get(entry.replicaId);
    if (!set) {
      set = new Set();
      this.byReplica.set(entry.replicaId, set);
    }
    set.add(key);
    this.perRequester.set(entry.requesterId, this.countFor(entry.requesterId) + 1);
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
    if (!this.perRequester.has(requesterId)) return;
    for (const [key, entry] of this.byKey) if (entry.requesterId === requesterId) this.remove(key, entry);
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
    const set = this.byReplica.get(entry.replicaId);
    if (set) {
      set.delete(key);
      if (set.size === 0) this.byReplica.delete(entry.replicaId);
    }
    const n = this.countFor(entry.requesterId) - 1;
    if (n > 0) this.perRequester.set(entry.requesterId, n);
    else this.perRequester.delete(entry.requesterId);
  }
}
