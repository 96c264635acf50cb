import type { Bucket } from "../bucket.js";
import type { ElectionClaim, ElectionRecord, ElectionStore, Unsubscribe } from "../types.js";
import { isObj, num, str } from "./values.js";

export const DEFAULT_LEASE_MS = 3_000;
/** a lease longer than this is refused: a stuck holder must not block a pool for long */
export const MAX_LEASE_MS = 60_000;
const MAX_ATTEMPTS = 5;

export function parseElection(raw: unknown): ElectionRecord | undefined {
  if (!isObj(raw)) return undefined;
  const { holder, sentinelId, epoch, expiresAt } = raw;
  if (!str(holder, 256) || !str(sentinelId, 128) || !num(epoch) || !num(expiresAt)) return undefined;
  return { holder, sentinelId, epoch, expiresAt };
}

function leaseOf(ms: number | undefined): number {
  const lease = ms ?? DEFAULT_LEASE_MS;
  if (!Number.isFinite(lease) || lease <= 0 || lease > MAX_LEASE_MS) {
    throw new RangeError(`lease must be in (0, ${MAX_LEASE_MS}] ms`);
  }
  return lease;
}

/**
 * Single-active leases decided by compare-and-set on the bucket's revision: every claim reads
 * the current record and writes only over that revision, so of racing claimants one wins and
 * the others read the winner. A takeover needs the holder's lease to have ended.
 */
export class BucketElectionStore implements ElectionStore {
  constructor(private readonly bucket: Bucket<ElectionRecord>) {}

  async claim(pool: string, claim: ElectionClaim): Promise<ElectionRecord> {
    const lease = leaseOf(claim.leaseMs);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const cur = await this.bucket.read(pool);
      const now = Date.now();
      if (cur === undefined) {
        const rec = { holder: claim.holder, sentinelId: claim.sentinelId, epoch: 1, expiresAt: now + lease };
        if ((await this.bucket.create(pool, rec)) !== undefined) return rec;
        continue;
      }
      const held = cur.value;
      const same = held.holder === claim.holder;
      if (!same && held.expiresAt > now) return held;
      const rec: ElectionRecord = {
        holder: claim.holder,
        sentinelId: claim.sentinelId,
        epoch: same ? held.epoch : held.epoch + 1,
        expiresAt: now + lease,
      };
      if ((await this.bucket.update(pool, rec, cur.revision)) !== undefined) return rec;
    }
    // every attempt lost a race: report whoever holds it now
    const cur = await this.bucket.read(pool);
    if (cur !== undefined) return cur.value;
    throw new Error(`election ${pool}: no decision after ${MAX_ATTEMPTS} attempts`);
  }

  async renew(pool: string, holder: string, leaseMs?: number): Promise<ElectionRecord | undefined> {
    const lease = leaseOf(leaseMs);
    const cur = await this.bucket.read(pool);
    if (cur === undefined || cur.value.holder !== holder) return undefined;
    const rec: ElectionRecord = { ...cur.value, expiresAt: Date.now() + lease };
    return (await this.bucket.update(pool, rec, cur.revision)) !== undefined ? rec : undefined;
  }

  async release(pool: string, holder: string): Promise<void> {
    const cur = await this.bucket.read(pool);
    if (cur === undefined || cur.value.holder !== holder) return;
    // expire rather than delete: the epoch keeps growing across holders
    await this.bucket.update(pool, { ...cur.value, expiresAt: 0 }, cur.revision);
  }

  current(pool: string): ElectionRecord | undefined {
    const e = this.bucket.peek(pool);
    return e !== undefined && e.value.expiresAt > Date.now() ? e.value : undefined;
  }

  onChange(cb: (pool: string, record: ElectionRecord | undefined) => void): Unsubscribe {
    return this.bucket.onChange((key, e) => cb(key, e?.value));
  }
}
