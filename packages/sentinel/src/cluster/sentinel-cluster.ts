import type { CryptoBackend } from "@fame/crypto";
import type { Logger } from "@fame/logger";
import type { Limits } from "@fame/protocol";
import type { NodeDirectory, PinStore } from "@fame/state";
import type { MetricFamily } from "@fame/telemetry";
import type { NodeSession } from "../node-session.js";
import type { LogicalRegistry } from "../routing/index.js";
import type { ClusterNodes, SessionDirectory } from "../session-directory.js";
import { type ClusterInbox, ClusterRoute } from "./cluster-route.js";
import { NodeDirectorySync } from "./node-directory-sync.js";
import type { SentinelLinks } from "./sentinel-links.js";

/** What a sentinel needs to join a cluster: the shared state it routes by, and its links. */
export interface ClusterWiring {
  /** the cluster's node directory and channel pins (`FabricState.directory`, `.pins`) */
  state: { readonly directory: NodeDirectory; readonly pins: PinStore };
  /**
   * to the other sentinels: `DirectSentinelLinks` (TLS WebSockets, NATS while a link is down)
   * or `BusSentinelLinks` (NATS subjects only, FAME_CLUSTER_DIRECT_LINKS=false)
   */
  links: SentinelLinks;
}

export interface SentinelClusterDeps {
  sentinelId: string;
  sessions: SessionDirectory;
  registry: LogicalRegistry<NodeSession>;
  limits: Readonly<Limits>;
  backend: CryptoBackend;
  log: Logger;
  now: () => number;
  /** ends a local connection of a node attached to another sentinel since (NodeDirectorySyncDeps) */
  supersede?: (session: NodeSession) => void;
}

/**
 * A sentinel's membership in a cluster, for routing: the cluster route (remote sessions,
 * forwarding both ways) and the node directory sync (this sentinel's nodes announced, the
 * others' followed). It is the session directory's cluster side, so attaches and detaches
 * reach the directory without the pipeline knowing.
 */
export class SentinelCluster implements ClusterNodes {
  readonly route: ClusterRoute;
  readonly sync: NodeDirectorySync;
  readonly pins: PinStore;
  private readonly links: SentinelLinks;

  constructor(wiring: ClusterWiring, deps: SentinelClusterDeps) {
    this.pins = wiring.state.pins;
    this.links = wiring.links;
    this.route = new ClusterRoute({
      sentinelId: deps.sentinelId,
      links: wiring.links,
      directory: deps.sessions,
      registry: deps.registry,
      limits: deps.limits,
      backend: deps.backend,
      log: deps.log,
      now: deps.now,
    });
    this.sync = new NodeDirectorySync({
      sentinelId: deps.sentinelId,
      nodes: wiring.state.directory,
      directory: deps.sessions,
      registry: deps.registry,
      route: this.route,
      log: deps.log,
      now: deps.now,
      ...(deps.supersede === undefined ? {} : { supersede: deps.supersede }),
    });
    deps.sessions.cluster = this;
  }

  /** hear peers and follow the directory */
  start(inbox: ClusterInbox): void {
    this.route.start(inbox);
    this.sync.start();
  }

  /** GET /metrics: the cluster section as metric families */
  metricFamilies(): MetricFamily[] {
    const c = this.route.counters;
    return [
      {
        name: "fame_sentinel_cluster_remote_nodes",
        help: "Nodes attached to other sentinels of the cluster that this sentinel routes to.",
        type: "gauge",
        samples: [{ value: this.route.remoteCount }],
      },
      {
        name: "fame_sentinel_cluster_messages_total",
        help: "Messages between sentinels: published (out), received (in), refused on receipt (bad), for a node no longer here (no_route).",
        type: "counter",
        samples: [
          { labels: { kind: "out" }, value: c.forwardedOut },
          { labels: { kind: "in" }, value: c.forwardedIn },
          { labels: { kind: "bad" }, value: c.badIn },
          { labels: { kind: "no_route" }, value: c.noRouteIn },
        ],
      },
    ];
  }

  /** the status page's `cluster` section */
  describe(): Record<string, unknown> {
    const links = this.links.describe?.();
    return { remoteNodes: this.route.remoteCount, ...this.route.counters, ...(links ? { links } : {}) };
  }

  stop(): void {
    this.sync.stop();
    this.route.close();
  }

  attached(session: NodeSession): void {
    this.sync.attached(session);
  }

  removed(session: NodeSession): void {
    this.sync.removed(session);
  }

  bySystemId(systemId: string): NodeSession | undefined {
    return this.route.bySystemId(systemId);
  }

  bySid(sid: string): NodeSession | undefined {
    return this.route.bySid(sid);
  }
}
