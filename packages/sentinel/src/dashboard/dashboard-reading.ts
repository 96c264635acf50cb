/**
 * What the dashboard reads from the sentinel once a second: the pools and their replicas as
 * they stand, and the running totals (calls per replica, refusals per code, failovers) that
 * the feed turns into per-second rates. Built from the same sources as the status page, only
 * while someone watches: nothing here runs per frame.
 */
import type { SentinelCounters } from "../sentinel-counters.js";
import type { StatusSources } from "../sentinel-status.js";

/** Bounds on one reading: ids and addresses come from nodes, and the page must stay small. */
export const DASHBOARD_MAX_POOLS = 64;
export const DASHBOARD_MAX_REPLICAS = 64;

export interface ReplicaReading {
  /** the replica's system id (from its certificate; shown as text, never as markup) */
  id: string;
  /** the name the node gave itself at attach (FAME_REPLICA_NAME/FAME_NODE_NAME), when it gave one */
  name: string | undefined;
  /** the node's physical path, when attached */
  path: string | undefined;
  healthy: boolean;
  draining: boolean;
  /** taken out of the pool for a while for leaving calls unanswered */
  ejected: boolean;
  /** single-active pools: true for the active replica, false for a standby */
  active: boolean | undefined;
  /** affinity sessions placed on it */
  sessions: number;
  /** secure channels pinned to it */
  pins: number;
  inflight: number;
  /** calls routed to it since it joined (the feed takes per-second differences) */
  calls: number;
}

export interface PoolReading {
  address: string;
  /** how the address is bound: `pooled` (wildcard replicas) or `exclusive` */
  binding: string;
  /** the pool policy's mode and affinity, when one is configured */
  mode: string | undefined;
  affinity: string | undefined;
  sessions: number;
  replicas: ReplicaReading[];
  /** members in all, shown or not */
  members: number;
  /** more replicas than DASHBOARD_MAX_REPLICAS */
  truncated: boolean;
}

export interface DashboardReading {
  /** ms since the epoch */
  at: number;
  sentinelId: string;
  securityProfile: string;
  connections: number;
  attachedNodes: number;
  inflight: number;
  pools: PoolReading[];
  /** more pools than DASHBOARD_MAX_POOLS (the configured and busiest are shown) */
  truncated: boolean;
  /** pools in all */
  poolCount: number;
  /** running totals per refusal code */
  refusals: Record<string, number>;
  /** running totals of failover events */
  failovers: { replicaUnavailable: number; sessionsMoved: number; channelsMoved: number };
}

/** Refusals counted outside the authorize stage, under the error code the sender was told. */
const COUNTED_REFUSALS: readonly (readonly [keyof SentinelCounters, string])[] = [
  ["rateLimited", "rate_limited"],
  ["staleRefused", "stale_envelope"],
  ["replayRefused", "replay"],
  ["channelQuotaRefused", "too_many_channels"],
  ["sessionCapRefused", "too_many_sessions"],
  ["bindRefused", "bind_refused"],
  ["attachRefused", "attach_refused"],
];

export function readDashboard(src: StatusSources, now: number): DashboardReading {
  const registry = src.registry.snapshot(
    DASHBOARD_MAX_POOLS,
    (address) => src.affinity.policyOf(address) !== undefined,
  );
  const distribution = new Map(src.affinity.snapshot().map((d) => [d.address, d]));
  const pins = src.stickiness?.pinsPerReplica();
  const pools: PoolReading[] = [];
  let sessionsMoved = 0;
  for (const d of distribution.values()) sessionsMoved += d.counters.stickyViolations;
  for (const pool of registry.pools) {
    const dist = distribution.get(pool.address);
    const byId = new Map(dist?.replicas.map((r) => [r.id, r]));
    const replicas: ReplicaReading[] = [];
    for (const m of pool.members.slice(0, DASHBOARD_MAX_REPLICAS)) {
      const r = byId.get(m.id);
      // a replica on another sentinel of the cluster: its mirror carries its directory record
      const node = src.directory.bySystemId(m.id) ?? src.cluster?.route.bySystemId(m.id);
      replicas.push({
        id: m.id,
        name: node?.name || undefined,
        path: node?.path,
        healthy: r?.healthy ?? m.healthy,
        draining: r?.draining ?? m.draining,
        ejected: r?.ejectedUntil !== undefined,
        active: r?.active,
        sessions: r?.sessions ?? 0,
        pins: pins?.get(m.id) ?? 0,
        inflight: m.inflight,
        calls: m.requests,
      });
    }
    pools.push({
      address: pool.address,
      binding: pool.mode,
      mode: dist?.policy?.mode,
      affinity: dist?.policy?.affinity,
      sessions: dist?.sessions ?? 0,
      replicas,
      members: pool.members.length,
      truncated: pool.members.length > replicas.length,
    });
  }
  const refusals: Record<string, number> = { ...src.authzRefusals };
  for (const [key, code] of COUNTED_REFUSALS) refusals[code] = (refusals[code] ?? 0) + src.counters[key];
  return {
    at: now,
    sentinelId: src.settings.sentinelId,
    securityProfile: src.settings.securityProfile,
    connections: src.directory.connectionCount,
    attachedNodes: src.directory.attachedCount,
    inflight: src.inflight.size,
    pools,
    truncated: registry.truncated,
    poolCount: registry.addresses,
    refusals,
    failovers: {
      replicaUnavailable: src.counters.replicaUnavailableNacks,
      sessionsMoved,
      channelsMoved: src.stickiness?.metrics().orphaned ?? 0,
    },
  };
}
