/**
 * Which replicas have stopped answering their callers. A replica that answers the sentinel's
 * health probes but drops every client call keeps a single-active role for ever, and takes its
 * share of a multi-active pool's work to nowhere; the probes cannot see it, the calls' outcome
 * can. Per replica, one record: how many calls from callers of *other* principals it holds
 * (routed through a pool, not yet answered, expired or orphaned) and since when it has answered
 * none of those callers. A replica is stalled when it has held such calls for the pool's
 * `unanswered_sec` without answering anyone of another principal meanwhile.
 *
 * Why the principal: a replica's own principal could otherwise keep it "answering" (the same
 * credential runs a client the replica answers) and, the other way round, could make an honest
 * replica look stalled with calls the replica cannot finish in time. A caller of another
 * principal can still send calls that are slow by nature; an honest replica answering other
 * callers meanwhile is not stalled, and ejection never takes a pool's last eligible member.
 *
 * O(1) per routed envelope and per reply (one map lookup); the check walks the records, one per
 * replica holding calls.
 */
export interface ReplicaCalls {
  readonly replicaId: string;
  /** the pool the last call came through: the one the replica is ejected from */
  address: string;
  /** calls from other principals held now */
  outstanding: number;
  /** when the replica last answered a caller of another principal, or got its first call since */
  quietSince: number;
  /** false once the record was dropped (ejection, the node left): its entries count no more */
  live: boolean;
}

export class StallWatch {
  private readonly byReplica = new Map<string, ReplicaCalls>();

  constructor(private readonly now: () => number) {}

  get size(): number {
    return this.byReplica.size;
  }

  /**
   * `calls` calls from a caller of another principal went to `replicaId` through `address`.
   * The record returned is kept on their in-flight entries, so each leaves it in O(1).
   */
  routed(replicaId: string, address: string, calls: number): ReplicaCalls {
    let rec = this.byReplica.get(replicaId);
    if (rec === undefined) {
      rec = { replicaId, address, outstanding: 0, quietSince: 0, live: true };
      this.byReplica.set(replicaId, rec);
    }
    // a replica holding nothing was not quiet: the wait starts with this call
    if (rec.outstanding === 0) rec.quietSince = this.now();
    rec.outstanding += calls;
    rec.address = address;
    return rec;
  }

  /** one call of `rec` left the in-flight table (answered, expired, either end gone) */
  settled(rec: ReplicaCalls): void {
    if (rec.live && rec.outstanding > 0) rec.outstanding--;
  }

  /** `replicaId` sent something (an answer, a stream item, a refusal) to a caller of another principal */
  answered(replicaId: string): void {
    const rec = this.byReplica.get(replicaId);
    if (rec !== undefined) rec.quietSince = this.now();
  }

  /**
   * The replicas whose calls have waited `afterMs(address)` ms and more with no answer; records
   * holding nothing are dropped on the way (bounded by the replicas holding calls).
   */
  stalled(afterMs: (address: string) => number | undefined): ReplicaCalls[] {
    const now = this.now();
    const out: ReplicaCalls[] = [];
    for (const [id, rec] of this.byReplica) {
      if (rec.outstanding === 0) {
        this.drop(id, rec);
        continue;
      }
      const limit = afterMs(rec.address);
      if (limit !== undefined && now - rec.quietSince >= limit) out.push(rec);
    }
    return out;
  }

  /**
   * Start again from nothing for `replicaId` (it was ejected, or left): the calls it holds now
   * are not held against it when it comes back.
   */
  forget(replicaId: string): void {
    const rec = this.byReplica.get(replicaId);
    if (rec !== undefined) this.drop(replicaId, rec);
  }

  private drop(id: string, rec: ReplicaCalls): void {
    rec.live = false;
    rec.outstanding = 0;
    this.byReplica.delete(id);
  }
}
