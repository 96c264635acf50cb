/**
 * Which replicas have stopped answering their callers. A replica that answers the sentinel's
 * health probes but drops every client call keeps a single-active role for ever, and takes its
 * share of a multi-active pool's work to nowhere; the probes cannot see it, the calls' outcome
 * can. Per pool member, one record: the calls it holds from callers of *other* principals
 * (routed through the pool, not yet answered, expired or orphaned), each with the time it was
 * last heard of (sent, or a stream item of it came back), and when the member last answered
 * one of those calls.
 *
 * A member is stalled when a call has gone unheard for the pool's `unanswered_sec` and it has
 * answered none of its other calls meanwhile, or when many calls have (answering some, or
 * refusing new ones for want of room, does not hide that it sits on the rest). A stream that
 * has sent an item is served: whether more follow is up to its caller's credit.
 *
 * Why the principal: a replica's own principal could otherwise keep it "answering" (the same
 * credential runs a client the replica answers) and, the other way round, could make an honest
 * replica look stalled with calls of its own. Why per call: a call the caller gave a short
 * deadline leaves the table when it expires, so it never counts, however late it is answered.
 *
 * O(1) per routed call and per answer (two map lookups per envelope, a Set operation per call);
 * the check looks at a bounded number of calls per record.
 */

/** A call in flight, as the watch keeps it (the sentinel's in-flight entry). */
export interface WatchedCall {
  /**
   * when it was sent; +Infinity once a stream item of it came back: the member serves it, and
   * from then on the caller's credit paces it (a caller that holds its credit back, or reads
   * slowly, must not get an honest replica ejected: review of audit round 11)
   */
  heardAt?: number | undefined;
  watch?: ReplicaCalls | undefined;
}

export interface ReplicaCalls {
  readonly address: string;
  readonly replicaId: string;
  /** calls from other principals held now, oldest first */
  readonly calls: Set<WatchedCall>;
  /** when the member last answered one of them (or the record was made) */
  answeredAt: number;
  /** false once the record was dropped (ejection, or nothing held): its calls count no more */
  live: boolean;
}

/** calls gone unheard at once that mark a member stalled even while it answers others */
export const MANY_UNANSWERED = 8;
/** calls looked at per record and check: the oldest are first */
const SCAN = 64;

export class StallWatch {
  private readonly byAddress = new Map<string, Map<string, ReplicaCalls>>();

  constructor(private readonly now: () => number) {}

  /** records holding calls now */
  get size(): number {
    let n = 0;
    for (const m of this.byAddress.values()) n += m.size;
    return n;
  }

  /** the record of `replicaId` in the pool at `address`, made on first use */
  recordOf(address: string, replicaId: string): ReplicaCalls {
    let members = this.byAddress.get(address);
    if (members === undefined) {
      members = new Map();
      this.byAddress.set(address, members);
    }
    let rec = members.get(replicaId);
    if (rec === undefined) {
      rec = { address, replicaId, calls: new Set(), answeredAt: this.now(), live: true };
      members.set(replicaId, rec);
    }
    return rec;
  }

  /** `call` went to the record's member; kept until it settles */
  add(rec: ReplicaCalls, call: WatchedCall): void {
    call.watch = rec;
    call.heardAt = this.now();
    rec.calls.add(call);
  }

  /** the call left the in-flight table (answered, expired, either end gone) */
  settled(call: WatchedCall): void {
    call.watch?.calls.delete(call);
  }

  /** the member answered `call` (finally): it serves its callers */
  answered(call: WatchedCall): void {
    const rec = call.watch;
    if (rec?.live) rec.answeredAt = this.now();
  }

  /** a stream item of `call` came back: this call is being served, at its caller's pace */
  progressed(call: WatchedCall): void {
    if (call.watch?.live) call.heardAt = Number.POSITIVE_INFINITY;
  }

  /**
   * The records whose member is stalled by its pool's limit (`afterMs`, undefined: not
   * watched); records holding nothing are dropped on the way.
   */
  stalled(afterMs: (address: string) => number | undefined): ReplicaCalls[] {
    const now = this.now();
    const out: ReplicaCalls[] = [];
    for (const [address, members] of this.byAddress) {
      const limit = afterMs(address);
      for (const [replicaId, rec] of members) {
        if (rec.calls.size === 0) {
          rec.live = false;
          members.delete(replicaId);
          continue;
        }
        if (limit === undefined) continue;
        let unheard = 0;
        let seen = 0;
        for (const call of rec.calls) {
          if (++seen > SCAN) break;
          if (now - (call.heardAt ?? now) >= limit) unheard++;
        }
        if ((unheard > 0 && now - rec.answeredAt >= limit) || unheard >= MANY_UNANSWERED) out.push(rec);
      }
      if (members.size === 0) this.byAddress.delete(address);
    }
    return out;
  }

  /**
   * Start again from nothing for the member (it was ejected): the calls it holds now are not
   * held against it when it comes back.
   */
  forget(address: string, replicaId: string): void {
    const members = this.byAddress.get(address);
    const rec = members?.get(replicaId);
    if (rec === undefined) return;
    rec.live = false;
    for (const call of rec.calls) call.watch = undefined;
    rec.calls.clear();
    members!.delete(replicaId);
    if (members!.size === 0) this.byAddress.delete(address);
  }
}
