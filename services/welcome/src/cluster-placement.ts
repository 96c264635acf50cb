import { createHash } from "node:crypto";
import { REGISTRY_REFRESH_MS, type SentinelRecord, type SentinelRegistry } from "@fame/state";
import { stableSystemId } from "./node-id.js";
import type { Placement, PlacementRequest, PlacementStrategy } from "./placement.js";

/** No sentinel of the cluster is live (or every one is draining): admission must wait. */
export class NoLiveSentinelError extends Error {
  /** a sentinel that starts advertises within one refresh period */
  readonly retryAfterSec = Math.ceil(REGISTRY_REFRESH_MS / 1000);

  constructor(clusterId: string) {
    super(`no live sentinel in cluster ${clusterId}: retry shortly`);
    this.name = "NoLiveSentinelError";
  }
}

/**
 * Placement in a cluster of sentinels: the node's path is `/<clusterId>/<systemId>` with the
 * systemId derived from (principal, instanceId), so it is the same on every sentinel; the node
 * goes to the least loaded live sentinel, and is told every live one, preferred first.
 */
export class ClusterPlacement implements PlacementStrategy {
  /**
   * Nodes this Welcome placed on each sentinel since that sentinel's last advert: the advert's
   * count lags by up to a refresh period, and a burst of hellos would otherwise all pick the
   * sentinel that looked emptiest.
   */
  private readonly placedSince = new Map<string, { seenAt: number; count: number }>();

  constructor(
    private readonly clusterId: string,
    private readonly nodeIdKey: Uint8Array,
    private readonly registry: Pick<SentinelRegistry, "live">,
  ) {}

  /** Throws NoLiveSentinelError when no sentinel can take the node. A proposed systemId is never used. */
  place(req: PlacementRequest): Placement {
    const systemId = stableSystemId(this.nodeIdKey, req.clientId, req.instanceId);
    const ranked = this.rank(systemId);
    const first = ranked[0];
    if (first === undefined) throw new NoLiveSentinelError(this.clusterId);
    this.notePlaced(first);
    return {
      systemId,
      assignedPath: `/${this.clusterId}/${systemId}`,
      transport: { url: first.publicUrl, urls: ranked.map((s) => s.publicUrl) },
    };
  }

  /**
   * Live sentinels that take new nodes, least loaded first; equal loads in an order fixed by
   * hash(systemId, sentinelId), so a node placed again while nothing changed returns to the
   * same sentinel, and different nodes spread over the tied ones.
   */
  private rank(systemId: string): SentinelRecord[] {
    const scored = this.registry
      .live()
      .filter((s) => !s.draining)
      .map((s) => ({ s, load: s.nodes + this.recent(s), tie: tieBreak(systemId, s.sentinelId) }));
    scored.sort((a, b) => a.load - b.load || a.tie - b.tie);
    // sentinels gone from the registry take their counts with them
    if (this.placedSince.size > scored.length + 16) {
      const live = new Set(scored.map(({ s }) => s.sentinelId));
      for (const id of this.placedSince.keys()) if (!live.has(id)) this.placedSince.delete(id);
    }
    const out: SentinelRecord[] = [];
    const urls = new Set<string>();
    for (const { s } of scored) {
      // two adverts naming one URL (a restarted sentinel under a new id) are one place to go
      if (urls.has(s.publicUrl)) continue;
      urls.add(s.publicUrl);
      out.push(s);
    }
    return out;
  }

  private recent(s: SentinelRecord): number {
    const mine = this.placedSince.get(s.sentinelId);
    return mine !== undefined && mine.seenAt === s.seenAt ? mine.count : 0;
  }

  private notePlaced(s: SentinelRecord): void {
    const mine = this.placedSince.get(s.sentinelId);
    if (mine !== undefined && mine.seenAt === s.seenAt) mine.count++;
    else this.placedSince.set(s.sentinelId, { seenAt: s.seenAt, count: 1 });
  }
}

function tieBreak(systemId: string, sentinelId: string): number {
  return createHash("sha256").update(systemId).update("\u0000").update(sentinelId).digest().readUInt32BE(0);
}
