/**
 * Per-pool distribution counters behind the status page and /metrics: requests per replica
 * and the policy counters (session hits and misses, NOT_ACTIVE refusals, promotions).
 */
import type { PoolPolicy } from "../pool-policy.js";
import type { ReplicaPool } from "../routing/replica-pool.js";
import type { MemberHealthView } from "./health-checker.js";
import type { SessionTable, SessionTableCounts } from "./session-table.js";

/** members one pool's distribution lists (and /metrics gives series to), at most */
export const MAX_DESCRIBED_MEMBERS = 256;

/** Per-pool counters; the session ones only move in pools with session affinity. */
export interface PoolCounters {
  /** a session's request went to the replica holding the session */
  stickyHits: number;
  /** a request started a session (none known) */
  stickyMisses: number;
  /** a known session went to another replica (its replica left, or its grace period ended) */
  stickyViolations: number;
  noFreeReplica: number;
  notActive: number;
  /** single-active: times a new active replica was elected */
  promotions: number;
  /** members taken out for leaving calls unanswered (outlier_detection) */
  ejections: number;
}

export interface ReplicaDistribution {
  id: string;
  requests: number;
  sessions: number;
  healthy: boolean;
  draining: boolean;
  /** single-active pools only */
  active?: boolean;
  /** health-checked pools only */
  health?: MemberHealthView;
  /** while the member is ejected for leaving calls unanswered: when that ends (ms since the epoch) */
  ejectedUntil?: number;
}

export interface PoolDistribution {
  address: string;
  /** null: the pool runs on the sentinel-wide defaults */
  policy: PoolPolicy | null;
  /** single-active pools: the active replica (null when none) */
  active?: string | null;
  sessions: number;
  counters: PoolCounters & Partial<SessionTableCounts>;
  replicas: ReplicaDistribution[];
}

interface AddressStats {
  counters: PoolCounters;
  requests: Map<string, number>;
}

function newCounters(): PoolCounters {
  return {
    stickyHits: 0,
    stickyMisses: 0,
    stickyViolations: 0,
    noFreeReplica: 0,
    notActive: 0,
    promotions: 0,
    ejections: 0,
  };
}

/** What `PoolStats.describe` reads about one pool besides its counters. */
export interface PoolView<N extends { id: string }> {
  address: string;
  policy: PoolPolicy | undefined;
  pool: ReplicaPool<N> | undefined;
  sessions: SessionTable | undefined;
  /** single-active pools: the member holding the role (undefined: none, or not single-active) */
  active: string | undefined;
  health: (nodeId: string) => MemberHealthView | undefined;
  ejectedUntil: (nodeId: string) => number | undefined;
}

export class PoolStats {
  private readonly byAddress = new Map<string, AddressStats>();

  /** the counters of `address`, created at first use */
  countersOf(address: string): PoolCounters {
    return this.statsOf(address).counters;
  }

  /** `replicaId` of the pool at `address` was sent `n` more requests */
  noteRequests(address: string, replicaId: string, n: number): void {
    const requests = this.statsOf(address).requests;
    requests.set(replicaId, (requests.get(replicaId) ?? 0) + n);
  }

  /** `nodeId` left the pool at `address`; the address is forgotten when `forget` says so */
  onNodeLeft(address: string, nodeId: string, forget: boolean): void {
    const stats = this.byAddress.get(address);
    if (stats === undefined) return;
    stats.requests.delete(nodeId);
    if (forget) this.byAddress.delete(address);
  }

  /** requests sent to the pool at `address` since its replicas joined */
  requestsOf(address: string): number {
    let n = 0;
    for (const v of this.byAddress.get(address)?.requests.values() ?? []) n += v;
    return n;
  }

  /** addresses that saw traffic */
  addresses(): IterableIterator<string> {
    return this.byAddress.keys();
  }

  describe<N extends { id: string }>(view: PoolView<N>): PoolDistribution {
    const stats = this.byAddress.get(view.address);
    const table = view.sessions;
    const perReplica = table?.perReplica();
    const singleActive = view.policy?.mode === "single-active";
    const replicas: ReplicaDistribution[] = [];
    for (const m of view.pool?.members() ?? []) {
      // the status page and /metrics list this many members of one pool at most
      if (replicas.length >= MAX_DESCRIBED_MEMBERS) break;
      const id = m.node.id;
      const health = view.health(id);
      const ejectedUntil = view.ejectedUntil(id);
      replicas.push({
        id,
        requests: stats?.requests.get(id) ?? 0,
        sessions: perReplica?.get(id) ?? 0,
        healthy: m.healthy,
        draining: m.draining,
        ...(singleActive ? { active: view.active === id } : {}),
        ...(health ? { health } : {}),
        ...(ejectedUntil !== undefined ? { ejectedUntil } : {}),
      });
    }
    return {
      address: view.address,
      policy: view.policy ?? null,
      ...(singleActive ? { active: view.active ?? null } : {}),
      sessions: table?.size ?? 0,
      counters: { ...(stats?.counters ?? newCounters()), ...(table ? table.counts : {}) },
      replicas,
    };
  }

  private statsOf(address: string): AddressStats {
    let stats = this.byAddress.get(address);
    if (stats === undefined) {
      stats = { counters: newCounters(), requests: new Map() };
      this.byAddress.set(address, stats);
    }
    return stats;
  }
}
