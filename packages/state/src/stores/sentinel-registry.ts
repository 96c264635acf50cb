import type { Bucket, BucketEntry } from "../bucket.js";
import type { SentinelAdvert, SentinelRecord, SentinelRegistry, Unsubscribe } from "../types.js";
import { isObj, num, str } from "./values.js";

export const REGISTRY_REFRESH_MS = 2_000;
export const REGISTRY_MAX_AGE_MS = 10_000;

export function parseSentinelRecord(raw: unknown): SentinelRecord | undefined {
  if (!isObj(raw)) return undefined;
  const { sentinelId, publicUrl, nodes, draining, seenAt } = raw;
  if (!str(sentinelId, 128) || !str(publicUrl, 2048) || !num(nodes) || !num(seenAt)) return undefined;
  if (typeof draining !== "boolean") return undefined;
  return { sentinelId, publicUrl, nodes, draining, seenAt };
}

/** Sentinels advertise themselves with a heartbeat; a silent one drops out after 10 s. */
export class BucketSentinelRegistry implements SentinelRegistry {
  private readonly own = new Map<string, { advert: SentinelAdvert; timer: NodeJS.Timeout }>();

  constructor(
    private readonly bucket: Bucket<SentinelRecord>,
    private readonly onRefreshError: (err: unknown) => void,
  ) {}

  async advertise(advert: SentinelAdvert): Promise<void> {
    let mine = this.own.get(advert.sentinelId);
    if (mine === undefined) {
      const timer = setInterval(() => {
        const cur = this.own.get(advert.sentinelId);
        if (cur !== undefined) this.write(cur.advert).catch(this.onRefreshError);
      }, REGISTRY_REFRESH_MS);
      timer.unref();
      mine = { advert, timer };
      this.own.set(advert.sentinelId, mine);
    }
    mine.advert = { ...advert };
    await this.write(mine.advert);
  }

  async withdraw(sentinelId: string): Promise<void> {
    const mine = this.own.get(sentinelId);
    if (mine !== undefined) clearInterval(mine.timer);
    this.own.delete(sentinelId);
    await this.bucket.delete(sentinelId);
  }

  live(): SentinelRecord[] {
    const out: SentinelRecord[] = [];
    const cutoff = Date.now() - REGISTRY_MAX_AGE_MS;
    for (const [, e] of this.bucket.entries()) if (e.at >= cutoff) out.push(e.value);
    return out.sort((a, b) => (a.sentinelId < b.sentinelId ? -1 : a.sentinelId > b.sentinelId ? 1 : 0));
  }

  get(sentinelId: string): SentinelRecord | undefined {
    const e = this.bucket.peek(sentinelId);
    return e !== undefined && e.at >= Date.now() - REGISTRY_MAX_AGE_MS ? e.value : undefined;
  }

  onChange(cb: (sentinelId: string, record: SentinelRecord | undefined) => void): Unsubscribe {
    return this.bucket.onChange((key, e: BucketEntry<SentinelRecord> | undefined) => cb(key, e?.value));
  }

  /** stops the heartbeats (the records then age out, or the caller withdraws them first) */
  stop(): void {
    for (const { timer } of this.own.values()) clearInterval(timer);
    this.own.clear();
  }

  private async write(advert: SentinelAdvert): Promise<void> {
    const record: SentinelRecord = {
      sentinelId: advert.sentinelId,
      publicUrl: advert.publicUrl,
      nodes: advert.nodes,
      draining: advert.draining ?? false,
      seenAt: Date.now(),
    };
    await this.bucket.put(advert.sentinelId, record);
  }
}
