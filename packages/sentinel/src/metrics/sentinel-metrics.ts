/**
 * The sentinel's metric families for GET /metrics: connection-level gauges and counters,
 * per-pool/per-replica distribution (requests, sessions, health, draining, active), sticky
 * hit/miss/violation counters, and channel pins. Built from the same data as the status page.
 */

import type { MetricFamily, MetricSample } from "@fame/telemetry";
import type { PoolDistribution } from "../affinity/pool-stats.js";
import type { StickinessMetrics } from "../stickiness/aft-stickiness-manager.js";

export interface SentinelMetricsInput {
  /** open connections (attaching or attached) */
  connections: number;
  attachedNodes: number;
  inflight: number;
  /** the sentinel's event counters (attached, routed, refused, …) */
  counters: Readonly<Record<string, number>>;
  /** frames refused by the authorize stage, per error code */
  refusals?: Readonly<Record<string, number>> | undefined;
  distribution: readonly PoolDistribution[];
  stickiness?: { metrics: StickinessMetrics; pinsPerReplica: ReadonlyMap<string, number> } | undefined;
}

const b = (v: boolean): number => (v ? 1 : 0);

/** snake_case of a counter key, for label values: `replicaUnavailableNacks` → `replica_unavailable_nacks` */
function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function perPool(
  distribution: readonly PoolDistribution[],
  value: (p: PoolDistribution) => number | undefined,
): MetricSample[] {
  const out: MetricSample[] = [];
  for (const p of distribution) {
    const v = value(p);
    if (v !== undefined) out.push({ labels: { pool: p.address }, value: v });
  }
  return out;
}

function perReplica(
  distribution: readonly PoolDistribution[],
  value: (r: PoolDistribution["replicas"][number], p: PoolDistribution) => number | undefined,
): MetricSample[] {
  const out: MetricSample[] = [];
  for (const p of distribution) {
    for (const r of p.replicas) {
      const v = value(r, p);
      if (v !== undefined) out.push({ labels: { pool: p.address, replica: r.id }, value: v });
    }
  }
  return out;
}

export function sentinelMetricFamilies(input: SentinelMetricsInput): MetricFamily[] {
  const d = input.distribution;
  const sessionPools = d.filter((p) => p.policy?.affinity === "session");
  const families: MetricFamily[] = [
    {
      name: "fame_sentinel_connections",
      help: "Open node connections (attaching or attached).",
      type: "gauge",
      samples: [{ value: input.connections }],
    },
    {
      name: "fame_sentinel_attached_nodes",
      help: "Attached nodes.",
      type: "gauge",
      samples: [{ value: input.attachedNodes }],
    },
    {
      name: "fame_sentinel_inflight_requests",
      help: "Requests forwarded to replicas and not answered yet.",
      type: "gauge",
      samples: [{ value: input.inflight }],
    },
    {
      name: "fame_sentinel_events_total",
      help: "Sentinel events by kind (attached, routed, refused, bad frames, nacks, ...).",
      type: "counter",
      samples: Object.entries(input.counters).map(([k, v]) => ({ labels: { event: snake(k) }, value: v })),
    },
    {
      name: "fame_sentinel_refusals_total",
      help: "Frames refused by the authorize stage, by error code.",
      type: "counter",
      samples: Object.entries(input.refusals ?? {}).map(([code, v]) => ({ labels: { code }, value: v })),
    },
    {
      name: "fame_pool_requests_total",
      help: "Envelopes routed through a pool to each replica.",
      type: "counter",
      samples: perReplica(d, (r) => r.requests),
    },
    {
      name: "fame_pool_replica_sessions",
      help: "Sessions currently placed on each replica (session-affinity pools).",
      type: "gauge",
      samples: perReplica(d, (r, p) => (p.policy?.affinity === "session" ? r.sessions : undefined)),
    },
    {
      name: "fame_pool_replica_healthy",
      help: "1 when the replica passes its health checks (heartbeat and optional app-level check).",
      type: "gauge",
      samples: perReplica(d, (r) => b(r.healthy)),
    },
    {
      name: "fame_pool_replica_draining",
      help: "1 when the replica is draining (no new sessions or channels).",
      type: "gauge",
      samples: perReplica(d, (r) => b(r.draining)),
    },
    {
      name: "fame_pool_replica_active",
      help: "1 for the active replica of a single-active pool.",
      type: "gauge",
      samples: perReplica(d, (r) => (r.active === undefined ? undefined : b(r.active))),
    },
    {
      name: "fame_pool_health_checks_total",
      help: "App-level health check outcomes per replica.",
      type: "counter",
      samples: d.flatMap((p) =>
        p.replicas.flatMap((r) =>
          r.health
            ? [
                { labels: { pool: p.address, replica: r.id, result: "pass" }, value: r.health.passed },
                { labels: { pool: p.address, replica: r.id, result: "fail" }, value: r.health.failed },
              ]
            : [],
        ),
      ),
    },
    {
      name: "fame_pool_sessions",
      help: "Sessions known to a session-affinity pool (including ones waiting to be placed again).",
      type: "gauge",
      samples: perPool(sessionPools, (p) => p.sessions),
    },
    {
      name: "fame_pool_sticky_hits_total",
      help: "Session requests routed to the replica holding the session.",
      type: "counter",
      samples: perPool(sessionPools, (p) => p.counters.stickyHits),
    },
    {
      name: "fame_pool_sticky_misses_total",
      help: "Session requests that started a session (no placement known).",
      type: "counter",
      samples: perPool(sessionPools, (p) => p.counters.stickyMisses),
    },
    {
      name: "fame_pool_sticky_violations_total",
      help: "Session requests routed away from the session's replica (it left, or its grace period ended).",
      type: "counter",
      samples: perPool(sessionPools, (p) => p.counters.stickyViolations),
    },
    {
      name: "fame_pool_sessions_ended_total",
      help: "Sessions that ended, by how.",
      type: "counter",
      samples: sessionPools.flatMap((p) =>
        (["ended", "expired", "evicted", "orphaned"] as const).map((how) => ({
          labels: { pool: p.address, how },
          value: p.counters[how] ?? 0,
        })),
      ),
    },
    {
      name: "fame_pool_no_free_replica_total",
      help: "New sessions refused because every replica of an exclusive pool held one.",
      type: "counter",
      samples: perPool(d, (p) => (p.policy?.exclusive ? p.counters.noFreeReplica : undefined)),
    },
    {
      name: "fame_pool_not_active_total",
      help: "Requests refused because no replica (or not the addressed one) is active.",
      type: "counter",
      samples: perPool(d, (p) => (p.policy?.mode === "single-active" ? p.counters.notActive : undefined)),
    },
    {
      name: "fame_pool_promotions_total",
      help: "Active replica elections in single-active pools.",
      type: "counter",
      samples: perPool(d, (p) => (p.policy?.mode === "single-active" ? p.counters.promotions : undefined)),
    },
    {
      name: "fame_pool_ejections_total",
      help: "Replicas taken out of a pool for a while for leaving calls unanswered (outlier_detection).",
      type: "counter",
      samples: perPool(d, (p) => p.counters.ejections),
    },
  ];
  const st = input.stickiness;
  if (st !== undefined) {
    families.push(
      {
        name: "fame_channel_pins",
        help: "Secure channels pinned to each replica.",
        type: "gauge",
        samples: [...st.pinsPerReplica].map(([replica, n]) => ({ labels: { replica }, value: n })),
      },
      {
        name: "fame_channel_stickiness_events_total",
        help: "Channel stickiness events by kind.",
        type: "counter",
        samples: Object.entries(st.metrics)
          .filter(([k]) => k !== "size")
          .map(([k, v]) => ({ labels: { event: snake(k) }, value: v })),
      },
    );
  }
  return families;
}
