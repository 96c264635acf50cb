import { batchOf, type Envelope } from "@fame/protocol";
import type { ReplicaCalls, WatchedCall } from "./affinity/stall-watch.js";
import { countDown, countUp } from "./keyed-counts.js";

/**
 * Requests forwarded to a replica and not yet answered, so that when the
 * replica dies its callers hear `replica_unavailable` at once instead of
 * waiting for their timeouts.
 */
export interface InflightEntry extends WatchedCall {
  requesterId: string;
  /** who holds the requester's credential (NodeSession.credential), counted when not "" */
  credential?: string | undefined;
  replicaId: string;
  corrId: string;
  /** id of the request envelope, echoed as refId in the nack */
  envelopeId: string;
  replyTo: string | undefined;
  deadline: number;
  /** the logical address it was routed through, when it went by way of a pool */
  address?: string | undefined;
  /** its replica's record of unanswered calls (outlier ejection), when the call is watched */
  watch?: ReplicaCalls | undefined;
  /** when it was sent, or a stream item of it came back (watched calls) */
  heardAt?: number | undefined;
}

/**
 * Entries are indexed per requester (corrId → entry) and per replica (a set of the entry
 * objects themselves): no composite string key is built, hashed and dropped for every call,
 * which showed in the sentinel's profile at tens of thousands of calls a second. An index
 * left empty stays until its node leaves (or a sweep finds it empty), so a busy connection
 * does not create and drop a Set per burst of calls.
 */
export class InflightTracker {
  private readonly byRequester = new Map<string, Map<string, InflightEntry>>();
  private readonly byReplica = new Map<string, Set<InflightEntry>>();
  /** entries per requesters' credential: one holder's many connections share a bound */
  private readonly byCredential = new Map<string, number>();
  private count = 0;

  /**
   * `onRemove` hears of every entry that leaves, however it leaves (answered, its replica or
   * requester gone, expired, replaced), so load counted at `track` is always given back.
   */
  constructor(
    private readonly maxEntries = 1_000_000,
    private readonly onRemove?: (entry: InflightEntry) => void,
  ) {}

  get size(): number {
    return this.count;
  }

  countFor(requesterId: string): number {
    return this.byRequester.get(requesterId)?.size ?? 0;
  }

  /** entries of all requesters admitted with `credential` together */
  countForCredential(credential: string): number {
    return this.byCredential.get(credential) ?? 0;
  }

  /** whether `n` more entries fit (a coalesced record is tracked whole or refused whole) */
  hasRoom(n: number): boolean {
    return this.count + n <= this.maxEntries;
  }

  /** false when the table is full: the caller refuses the request rather than lose track of it */
  track(entry: InflightEntry): boolean {
    let calls = this.byRequester.get(entry.requesterId);
    const old = calls?.get(entry.corrId);
    if (old) this.remove(calls!, old);
    if (this.count >= this.maxEntries) return false;
    if (!calls) {
      calls = new Map();
      this.byRequester.set(entry.requesterId, calls);
    }
    calls.set(entry.corrId, entry);
    let routed = this.byReplica.get(entry.replicaId);
    if (!routed) {
      routed = new Set();
      this.byReplica.set(entry.replicaId, routed);
    }
    routed.add(entry);
    this.count++;
    if (entry.credential) countUp(this.byCredential, entry.credential);
    return true;
  }

  /** the replica `requesterId`'s call `corrId` went to, while it is in flight */
  replicaOf(requesterId: string, corrId: string): string | undefined {
    return this.byRequester.get(requesterId)?.get(corrId)?.replicaId;
  }

  /** requester's call `corrId` while it is in flight with `replicaId` */
  entryOf(replicaId: string, requesterId: string, corrId: string): InflightEntry | undefined {
    const entry = this.byRequester.get(requesterId)?.get(corrId);
    return entry?.replicaId === replicaId ? entry : undefined;
  }

  /**
   * Does `env`, from `replicaId` to `requesterId`, answer calls the requester has in flight
   * with that replica (every call of a batch), at the reply address the requester named for
   * them? Then the address is the requester's own choice, and the answer is its to receive.
   */
  answersAt(replicaId: string, requesterId: string, env: Envelope): boolean {
    const batch = batchOf(env);
    if (batch === undefined) {
      const corrId = env.corrId;
      return corrId !== undefined && this.answeredAt(replicaId, requesterId, corrId, env.to);
    }
    for (const entry of batch)
      if (!this.answeredAt(replicaId, requesterId, entry.corrId, env.to)) return false;
    return true;
  }

  private answeredAt(
    replicaId: string,
    requesterId: string,
    corrId: string,
    to: string | undefined,
  ): boolean {
    const entry = this.entryOf(replicaId, requesterId, corrId);
    return entry !== undefined && entry.replyTo !== undefined && entry.replyTo === to;
  }

  /** the replica answered (finally); the entry it took out, undefined when there was none */
  complete(replicaId: string, requesterId: string, corrId: string): InflightEntry | undefined {
    const calls = this.byRequester.get(requesterId);
    const entry = calls?.get(corrId);
    if (entry === undefined || entry.replicaId !== replicaId) return undefined;
    this.remove(calls!, entry);
    return entry;
  }

  /** takes `entry` out, when it is still in flight; false when it had left already */
  drop(entry: InflightEntry): boolean {
    const calls = this.byRequester.get(entry.requesterId);
    if (calls?.get(entry.corrId) !== entry) return false;
    this.remove(calls, entry);
    return true;
  }

  /** removes and returns everything routed to a replica that just left */
  takeAllFor(replicaId: string): InflightEntry[] {
    const routed = this.byReplica.get(replicaId);
    if (!routed) return [];
    this.byReplica.delete(replicaId);
    const out = [...routed];
    for (const entry of out) {
      this.byRequester.get(entry.requesterId)?.delete(entry.corrId);
      this.uncount(entry);
      this.onRemove?.(entry);
    }
    return out;
  }

  /** a requester left: its pending entries have nobody to answer; they are returned */
  dropRequester(requesterId: string): InflightEntry[] {
    const calls = this.byRequester.get(requesterId);
    if (!calls) return [];
    this.byRequester.delete(requesterId);
    const out = [...calls.values()];
    for (const entry of out) {
      this.byReplica.get(entry.replicaId)?.delete(entry);
      this.uncount(entry);
      this.onRemove?.(entry);
    }
    return out;
  }

  /** forgets entries past their deadline (and indexes left empty); bounded work per call */
  sweep(now: number, maxWork = 10_000): number {
    let removed = 0;
    let seen = 0;
    for (const [requesterId, calls] of this.byRequester) {
      if (seen >= maxWork) break;
      for (const entry of calls.values()) {
        if (++seen > maxWork) break;
        if (entry.deadline <= now) {
          this.remove(calls, entry);
          removed++;
        }
      }
      if (calls.size === 0) this.byRequester.delete(requesterId);
    }
    for (const [replicaId, routed] of this.byReplica) if (routed.size === 0) this.byReplica.delete(replicaId);
    return removed;
  }

  private remove(calls: Map<string, InflightEntry>, entry: InflightEntry): void {
    calls.delete(entry.corrId);
    this.byReplica.get(entry.replicaId)?.delete(entry);
    this.uncount(entry);
    this.onRemove?.(entry);
  }

  private uncount(entry: InflightEntry): void {
    this.count--;
    if (entry.credential) countDown(this.byCredential, entry.credential);
  }
}
