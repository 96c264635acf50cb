import type { Histogram } from "@fame/telemetry";
import type { PoolRouter } from "./affinity/index.js";
import type { SentinelCluster } from "./cluster/sentinel-cluster.js";
import type { InflightTracker } from "./inflight-tracker.js";
import type { PendingAttaches } from "./limits/pending-attaches.js";
import { renderPrometheus, sentinelMetricFamilies } from "./metrics/index.js";
import { processMemoryFamily } from "./metrics/process-memory.js";
import { routeTimeFamily } from "./metrics/route-time.js";
import type { NodeSession } from "./node-session.js";
import type { PendingOpens } from "./pipeline/pending-opens.js";
import type { LogicalRegistry } from "./routing/index.js";
import type { SentinelConfig } from "./sentinel-config.js";
import type { SentinelCounters } from "./sentinel-counters.js";
import type { SessionDirectory } from "./session-directory.js";
import type { AFTLoadBalancerStickinessManager } from "./stickiness/index.js";

/** What the status page and /metrics read: the sentinel's state, never changed here. */
export interface StatusSources {
  settings: Pick<SentinelConfig, "sentinelId" | "securityProfile" | "loadBalancing">;
  directory: SessionDirectory;
  pendingAttaches: PendingAttaches;
  pendingOpens: PendingOpens;
  registry: LogicalRegistry<NodeSession>;
  inflight: InflightTracker;
  counters: SentinelCounters;
  affinity: PoolRouter<NodeSession>;
  stickiness: AFTLoadBalancerStickinessManager | undefined;
  /** the authorize stage's refusals per code (undefined with a custom authorizer) */
  authzRefusals?: Readonly<Record<string, number>> | undefined;
  /** time spent on each frame (fame_sentinel_route_seconds) */
  routeTime?: Histogram | undefined;
  /** routing between sentinels (undefined on a single sentinel: no `cluster` key on the page) */
  cluster?: SentinelCluster | undefined;
}

/** The status page (GET /fame/v1/status): attached nodes, pools, counters, pins, distribution. */
export function sentinelStatus(src: StatusSources): Record<string, unknown> {
  const stickiness = src.stickiness;
  const pools = src.registry.snapshot(1000, (address) => src.affinity.policyOf(address) !== undefined);
  return {
    sentinelId: src.settings.sentinelId,
    securityProfile: src.settings.securityProfile,
    loadBalancing: src.settings.loadBalancing,
    sessions: src.directory.connectionCount,
    attaching: src.pendingAttaches.total,
    pendingOpens: src.pendingOpens.size,
    nodes: [...src.directory.attachedSessions()].map((s) => ({
      systemId: s.systemId,
      ...(s.name ? { name: s.name } : {}),
      sid: s.sid,
      path: s.path,
      logicals: s.acceptedLogicals,
      draining: s.draining,
      inflight: src.inflight.countFor(s.id),
      remote: s.link.remote,
    })),
    pools,
    ...(src.cluster === undefined ? {} : { remoteNames: remoteNames(src.cluster, pools.pools) }),
    inflight: src.inflight.size,
    counters: { ...src.counters },
    refusedByCode: { ...src.authzRefusals },
    stickiness: stickiness
      ? { ...stickiness.metrics(), perReplica: Object.fromEntries(stickiness.pinsPerReplica()) }
      : null,
    distribution: src.affinity.snapshot(),
    ...(src.cluster === undefined ? {} : { cluster: src.cluster.describe() }),
  };
}

/** The Prometheus text page (GET /metrics): same data as the status page, as metric families. */
export function sentinelMetricsText(src: StatusSources): string {
  const stickiness = src.stickiness;
  const families = sentinelMetricFamilies({
    connections: src.directory.connectionCount,
    attachedNodes: src.directory.attachedCount,
    inflight: src.inflight.size,
    counters: { ...src.counters },
    refusals: src.authzRefusals,
    distribution: src.affinity.snapshot(),
    stickiness: stickiness
      ? { metrics: stickiness.metrics(), pinsPerReplica: stickiness.pinsPerReplica() }
      : undefined,
  });
  if (src.routeTime !== undefined) families.push(routeTimeFamily(src.routeTime));
  families.push(processMemoryFamily(process.memoryUsage()));
  if (src.cluster !== undefined) families.push(...src.cluster.metricFamilies());
  return renderPrometheus(families);
}

/**
 * The names of pool members attached to other sentinels of the cluster (the nodes list holds
 * only this sentinel's), from their directory records: what `fame status` labels them with.
 * Bounded by the pools the snapshot lists.
 */
function remoteNames(
  cluster: SentinelCluster,
  pools: readonly { members: readonly { id: string }[] }[],
): Record<string, string> {
  const names: Record<string, string> = {};
  for (const pool of pools)
    for (const m of pool.members) {
      const name = cluster.route.bySystemId(m.id)?.name;
      if (name) names[m.id] = name;
    }
  return names;
}
