/**
 * Members taken out of their pool for a while because they stopped answering calls (see
 * stall-watch.ts). Like Envoy's outlier ejection: a member ejected again within the hour after
 * its last ejection stays out longer (1×, 2×, 4×, … up to 10× the pool's `ejection_sec`), so a
 * replica that keeps failing is left alone more and more. Keyed by the member's node id, which
 * a node keeps when it re-attaches: leaving and binding again does not end an ejection.
 */
export interface Ejection {
  readonly address: string;
  readonly nodeId: string;
  until: number;
  /** ejections of this member in a row (each within the hour after the previous one) */
  strikes: number;
  lastAt: number;
}

/** at most this many times the base length */
const MAX_MULTIPLIER = 10;
/** a member not ejected for this long starts from one strike again */
const STRIKES_FORGOTTEN_MS = 60 * 60_000;
/** members remembered at most (strikes included); the oldest record goes first beyond it */
const MAX_RECORDS = 10_000;

export class OutlierEjections {
  /** `${address}\0${nodeId}` → record; kept after the ejection ends, for its strikes */
  private readonly records = new Map<string, Ejection>();

  constructor(private readonly now: () => number) {}

  isEjected(address: string, nodeId: string): boolean {
    const rec = this.records.get(key(address, nodeId));
    return rec !== undefined && rec.until > this.now();
  }

  /** when the member's ejection ends, while it is ejected */
  ejectedUntil(address: string, nodeId: string): number | undefined {
    const rec = this.records.get(key(address, nodeId));
    return rec !== undefined && rec.until > this.now() ? rec.until : undefined;
  }

  /** Ejects the member for `baseMs` times its strike multiplier; the record, with its new end. */
  eject(address: string, nodeId: string, baseMs: number): Ejection {
    const now = this.now();
    const k = key(address, nodeId);
    let rec = this.records.get(k);
    if (rec === undefined || now - rec.lastAt > STRIKES_FORGOTTEN_MS) {
      if (rec === undefined && this.records.size >= MAX_RECORDS) this.evictOldest();
      rec = { address, nodeId, until: now, strikes: 0, lastAt: now };
      this.records.delete(k);
      this.records.set(k, rec);
    }
    rec.strikes++;
    rec.lastAt = now;
    rec.until = now + baseMs * Math.min(2 ** (rec.strikes - 1), MAX_MULTIPLIER);
    return rec;
  }

  /**
   * Another sentinel of the cluster ejected the member for `forMs` more, at its `strikes`: kept
   * here too (the longer end and the higher count win), so that the member, re-attaching here,
   * is still out when it binds.
   */
  remember(address: string, nodeId: string, forMs: number, strikes: number): Ejection {
    const now = this.now();
    const k = key(address, nodeId);
    let rec = this.records.get(k);
    if (rec === undefined) {
      if (this.records.size >= MAX_RECORDS) this.evictOldest();
      rec = { address, nodeId, until: 0, strikes: 0, lastAt: now };
      this.records.set(k, rec);
    }
    rec.until = Math.max(rec.until, now + forMs);
    rec.strikes = Math.max(rec.strikes, strikes);
    rec.lastAt = now;
    return rec;
  }

  /**
   * The ejections that ran out since the last call (each reported once); records whose strikes
   * are forgotten are dropped.
   */
  ended(): Ejection[] {
    const now = this.now();
    const out: Ejection[] = [];
    for (const [k, rec] of this.records) {
      if (rec.until !== 0 && rec.until <= now) {
        rec.until = 0;
        out.push(rec);
      } else if (rec.until === 0 && now - rec.lastAt > STRIKES_FORGOTTEN_MS) {
        this.records.delete(k);
      }
    }
    return out;
  }

  /** every ejection in force, for the status page */
  *active(): IterableIterator<Ejection> {
    const now = this.now();
    for (const rec of this.records.values()) if (rec.until > now) yield rec;
  }

  private evictOldest(): void {
    for (const [k, rec] of this.records) {
      // the oldest record whose ejection is over; an ejection in force is never forgotten early
      if (rec.until <= this.now()) {
        this.records.delete(k);
        return;
      }
    }
  }
}

function key(address: string, nodeId: string): string {
  return `${address}\u0000${nodeId}`;
}
