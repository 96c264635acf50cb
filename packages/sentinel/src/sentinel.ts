import { type CryptoBackend, defaultBackend } from "@fame/crypto";
import type { Logger } from "@fame/logger";
import {
  DEFAULT_MAX_CLOCK_SKEW_MS,
  type Envelope,
  FreshnessWindow,
  isLinkBatch,
  resolveLimits,
} from "@fame/protocol";
import type { Tracer } from "@fame/telemetry";
import { PoolRouter } from "./affinity/index.js";
import type { AttachAuthority } from "./attach-authority.js";
import { CLOSE } from "./close-codes.js";
import { pipelineInbox } from "./cluster/cluster-inbox.js";
import { type ClusterWiring, SentinelCluster } from "./cluster/sentinel-cluster.js";
import { type DashboardReading, readDashboard } from "./dashboard/dashboard-reading.js";
import { type InflightEntry, InflightTracker } from "./inflight-tracker.js";
import { LIMIT_DEFAULTS } from "./limits/defaults.js";
import { FrameRateLimiter } from "./limits/frame-rate.js";
import { PendingAttaches } from "./limits/pending-attaches.js";
import { newRouteTimeHistogram, nextRouteSampleGap } from "./metrics/route-time.js";
import type { Link, NodeSession } from "./node-session.js";
import { AccountStage } from "./pipeline/account-stage.js";
import { AuthenticateStage } from "./pipeline/authenticate-stage.js";
import { type AuthorizeStage, FrameAuthorizer } from "./pipeline/authorize-stage.js";
import { ControlFrames, type ResumeResult } from "./pipeline/control-frames.js";
import { DecodeStage } from "./pipeline/decode-stage.js";
import { DeliverStage } from "./pipeline/deliver-stage.js";
import { PendingOpens } from "./pipeline/pending-opens.js";
import { PhysicalRoute } from "./pipeline/physical-route.js";
import { PoolRoute } from "./pipeline/pool-route.js";
import { RateStage } from "./pipeline/rate-stage.js";
import type { RouteRequest } from "./pipeline/route-request.js";
import { RouteStage } from "./pipeline/route-stage.js";
import { RouteTrace } from "./pipeline/route-trace.js";
import { type AccessPolicy, OPEN_ACCESS } from "./policy/access-policy.js";
import { LogicalRegistry } from "./routing/index.js";
import { DEFAULT_MAX_INFLIGHT_PER_PRINCIPAL, type SentinelConfig } from "./sentinel-config.js";
import { newSentinelCounters, type SentinelCounters } from "./sentinel-counters.js";
import { type StatusSources, sentinelMetricsText, sentinelStatus } from "./sentinel-status.js";
import { SessionDirectory } from "./session-directory.js";
import { SessionTeardown } from "./session-teardown.js";
import type { SharedState } from "./shared-state.js";
import type { AFTLoadBalancerStickinessManager } from "./stickiness/index.js";

export { CLOSE } from "./close-codes.js";
export type { SentinelCounters } from "./sentinel-counters.js";

export type SentinelSettings = Pick<
  SentinelConfig,
  | "sentinelId"
  | "securityProfile"
  | "loadBalancing"
  | "heartbeatMs"
  | "heartbeatMissLimit"
  | "attachTimeoutMs"
  | "maxFrameBytes"
  | "maxInflightPerConnection"
> &
  Partial<
    Pick<
      SentinelConfig,
      | "maxChannelsPerClient"
      | "maxInflightPerPrincipal"
      | "maxExclusiveSessionsPerClient"
      | "sessionPrincipalSharePct"
      | "idleTimeoutMs"
      | "pools"
      | "maxFramesPerSec"
      | "frameBurst"
      | "maxSessions"
      | "maxBindingsPerPrincipal"
      | "maxClockSkewMs"
      | "linkBatch"
    >
  >;

export interface SentinelDeps {
  log: Logger;
  attach: AttachAuthority;
  stickiness?: AFTLoadBalancerStickinessManager | undefined;
  /**
   * The session directory `stickiness` was built with (`{ directory }`). Without one the
   * sentinel makes its own and hands it to the manager.
   */
  sessions?: SessionDirectory | undefined;
  /** the authorize stage; by default a `FrameAuthorizer` over `policy` */
  authorize?: AuthorizeStage | undefined;
  /** who may call which logical addresses (the default authorizer asks it); default OPEN_ACCESS */
  policy?: AccessPolicy | undefined;
  now?: () => number;
  backend?: CryptoBackend;
  /** print every envelope passing through (FAME_SHOW_ENVELOPES) */
  showEnvelopes?: boolean;
  /** route spans for frames carrying a sampled hop traceparent (OTEL_* settings); none: no spans */
  tracer?: Tracer | undefined;
  /**
   * Storage `nats`: this sentinel is one of a cluster's (node directory, shared pins, links to
   * the other sentinels). Undefined (storage `memory`): a single sentinel, as ever.
   */
  cluster?: ClusterWiring | undefined;
  /**
   * The cluster's shared state with its partition rule (shared-state.ts): single-active leases
   * and session placements live there, and new work it cannot record is refused. Undefined on
   * a single sentinel.
   */
  shared?: SharedState | undefined;
}

/**
 * The sentinel's core, independent of sockets. It composes the stages a frame meets, in order:
 * decode → authenticate → authorize → route (registry, pools, stickiness) → deliver → account.
 * The stages share the session directory, the registry, the pool router and the sticky table.
 */
export class Sentinel {
  readonly registry: LogicalRegistry<NodeSession>;
  /** requests awaiting an answer; those routed through a pool count as its members' load (least_inflight) */
  readonly inflight = new InflightTracker(undefined, (entry) => {
    if (entry.address !== undefined) this.registry.resolve(entry.address)?.release(entry.replicaId);
    if (entry.watch !== undefined) this.affinity.settled(entry);
  });
  /** per-pool policies: session affinity, exclusive sessions, single-active, health checks */
  readonly affinity: PoolRouter<NodeSession>;
  readonly counters: SentinelCounters = newSentinelCounters();
  /** connections open and not yet attached (the server caps these before upgrading) */
  readonly pendingAttaches = new PendingAttaches();
  /** fame_sentinel_route_seconds: the synchronous time spent on each frame */
  readonly routeTime = newRouteTimeHistogram();
  /** frames until the next one whose route time is measured */
  private untilRouteSample = 1;
  private readonly directory: SessionDirectory;
  private readonly pendingOpens: PendingOpens;
  private readonly stickiness: AFTLoadBalancerStickinessManager | undefined;
  private readonly now: () => number;
  private readonly rate: RateStage;
  private readonly decode: DecodeStage;
  private readonly authenticate: AuthenticateStage;
  private readonly authorize: AuthorizeStage;
  private readonly route: RouteStage;
  private readonly deliver: DeliverStage;
  private readonly account: AccountStage;
  private readonly control: ControlFrames;
  private readonly teardown: SessionTeardown;
  private readonly sources: StatusSources;
  private readonly routeTrace: RouteTrace | undefined;
  /** in a cluster: remote sessions, forwarding, the node directory; undefined on one sentinel */
  readonly cluster: SentinelCluster | undefined;

  constructor(settings: SentinelSettings, deps: SentinelDeps) {
    const now = deps.now ?? Date.now;
    const log = deps.log;
    const sid = settings.sentinelId;
    this.registry = new LogicalRegistry<NodeSession>({
      // one credential's nodes together, wherever they attach (remote ones carry theirs too)
      ownerOf: (node) => node.principal,
      maxBindingsPerOwner: settings.maxBindingsPerPrincipal ?? LIMIT_DEFAULTS.maxBindingsPerPrincipal,
    });
    const counters = this.counters;
    const stickiness = deps.stickiness;
    const directory = deps.sessions ?? new SessionDirectory();
    if (deps.sessions === undefined) stickiness?.setReplicaDirectory(directory);
    const registry = this.registry;
    const inflight = this.inflight;
    const limits = resolveLimits({ maxFrameBytes: settings.maxFrameBytes });
    const showEnvelopes = deps.showEnvelopes ?? false;
    this.now = now;
    this.stickiness = stickiness;
    this.directory = directory;
    const backend = deps.backend ?? defaultBackend();
    const cluster =
      deps.cluster === undefined
        ? undefined
        : new SentinelCluster(deps.cluster, {
            sentinelId: sid,
            sessions: directory,
            registry,
            limits,
            backend,
            log,
            now,
            // called on directory changes, long after construction: the teardown exists by then
            supersede: (session) => {
              session.link.close(CLOSE.superseded, "attached to another sentinel");
              this.teardown.close(session, "superseded");
            },
          });
    this.cluster = cluster;
    if (cluster !== undefined) stickiness?.setSharedPins(cluster.pins);

    const deliver = new DeliverStage({ sid, counters, log, showEnvelopes, limits });
    const affinity = new PoolRouter<NodeSession>(settings.pools ?? [], {
      now,
      log,
      resolve: (address) => registry.resolve(address),
      sentinelId: sid,
      loadBalancing: settings.loadBalancing,
      sendProbe: (nodeId, env) => {
        const node = directory.bySystemId(nodeId);
        if (!node) return false;
        deliver.send(node, env);
        return true;
      },
      cluster:
        deps.shared === undefined
          ? undefined
          : {
              shared: deps.shared,
              isLocal: (id) => directory.bySystemId(id) !== undefined,
              reportStall: (address, id) => this.stallReporter?.(address, id),
              ejected: (address, id, forMs, strikes) => this.ejectionReporter?.(address, id, forMs, strikes),
            },
      // the watch keeps in-flight entries: what it gives up are those
      giveUp: (calls, replicaId) => this.teardown.givenUp(calls as InflightEntry[], replicaId),
    });
    const pendingAttaches = this.pendingAttaches;
    const pendingOpens = new PendingOpens(
      settings.maxChannelsPerClient ?? LIMIT_DEFAULTS.maxChannelsPerClient,
      stickiness,
      now,
    );
    const teardown = new SessionTeardown({
      sid,
      directory,
      pendingAttaches,
      registry,
      inflight,
      affinity,
      stickiness,
      deliver,
      counters,
      log,
      heartbeatLostMs: settings.heartbeatMs * settings.heartbeatMissLimit,
      idleTimeoutMs: settings.idleTimeoutMs ?? LIMIT_DEFAULTS.idleTimeoutMs,
    });
    const authenticate = new AuthenticateStage({
      sid,
      attach: deps.attach,
      directory,
      pendingAttaches,
      teardown,
      deliver,
      counters,
      log,
      backend,
      now,
      securityProfile: settings.securityProfile,
      attachTimeoutMs: settings.attachTimeoutMs,
      maxSessions: settings.maxSessions ?? LIMIT_DEFAULTS.maxSessions,
      heartbeatMs: settings.heartbeatMs,
      maxFrameBytes: limits.maxFrameBytes,
      linkBatch: settings.linkBatch ?? true,
      stickinessLevel: stickiness?.securityLevel,
      freshness:
        settings.securityProfile === "open"
          ? undefined
          : new FreshnessWindow({
              skewMs: settings.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS,
              // one sender per attached session: none is forgotten while the cap holds
              maxSenders: Math.max(4096, settings.maxSessions ?? LIMIT_DEFAULTS.maxSessions),
            }),
    });
    const account = new AccountStage({
      registry,
      inflight,
      affinity,
      counters,
      deliver,
      maxInflightPerConnection: settings.maxInflightPerConnection,
      maxInflightPerPrincipal: settings.maxInflightPerPrincipal ?? DEFAULT_MAX_INFLIGHT_PER_PRINCIPAL,
      now,
    });
    const control = new ControlFrames({
      sid,
      registry,
      directory,
      affinity,
      deliver,
      log,
      policy: deps.policy ?? OPEN_ACCESS,
      counters,
      cluster,
      rotateKeys: (jwks, node) => deps.attach.rotatedKeys(jwks, node),
      now,
    });
    const routeDeps = {
      sid,
      registry,
      directory,
      affinity,
      stickiness,
      pendingOpens,
      inflight,
      account,
      deliver,
      counters,
      log,
    };
    this.affinity = affinity;
    this.pendingOpens = pendingOpens;
    this.deliver = deliver;
    this.routeTrace = deps.tracer === undefined ? undefined : new RouteTrace(deps.tracer, deliver);
    this.teardown = teardown;
    this.authenticate = authenticate;
    this.account = account;
    this.control = control;
    this.rate = new RateStage({
      sid,
      limiter: new FrameRateLimiter({
        perSec: settings.maxFramesPerSec ?? LIMIT_DEFAULTS.maxFramesPerSec,
        burst: settings.frameBurst ?? LIMIT_DEFAULTS.frameBurst,
      }),
      counters,
      deliver,
      log,
      close: (session, why) => teardown.close(session, why),
    });
    this.decode = new DecodeStage({
      sid,
      limits,
      counters,
      log,
      showEnvelopes,
      deliver,
      authenticate,
      linkBatch: settings.linkBatch ?? true,
    });
    const authorizer =
      deps.authorize ??
      new FrameAuthorizer({
        stickiness,
        pendingOpens,
        affinity,
        policy: deps.policy ?? OPEN_ACCESS,
        registry,
        inflight,
        counters,
        sessionLimits: {
          maxExclusivePerClient:
            settings.maxExclusiveSessionsPerClient ?? LIMIT_DEFAULTS.maxExclusiveSessionsPerClient,
          principalSharePct: settings.sessionPrincipalSharePct ?? LIMIT_DEFAULTS.sessionPrincipalSharePct,
        },
      });
    this.authorize = authorizer;
    this.route = new RouteStage({
      sid,
      registry,
      directory,
      affinity,
      control,
      physical: new PhysicalRoute(routeDeps),
      pools: new PoolRoute(routeDeps),
      deliver,
      cluster: cluster?.route,
    });
    this.sources = {
      settings,
      directory,
      pendingAttaches,
      pendingOpens,
      registry,
      inflight,
      counters,
      affinity,
      stickiness,
      authzRefusals: authorizer instanceof FrameAuthorizer ? authorizer.refusals : undefined,
      routeTime: this.routeTime,
      cluster,
    };
    cluster?.start(
      pipelineInbox({
        route: this.route,
        deliver,
        affinity,
        stickiness,
        teardown,
        log,
        dispatch: (sender, env, req) => this.dispatch(sender, env, req),
      }),
    );
  }

  get sessionCount(): number {
    return this.directory.connectionCount;
  }

  /** connections that have not attached yet */
  get attachingCount(): number {
    return this.pendingAttaches.total;
  }

  /** a new connection: it has attachTimeoutMs to present a valid NodeAttach */
  open(link: Link): NodeSession {
    return this.authenticate.open(link);
  }

  /**
   * One text frame from a connection, through the pipeline. Returns a promise only while work
   * is still under way (an attach, a SecureAccept being pinned, a stateless AFT being checked):
   * routing a data frame completes synchronously, with no promise and no microtask per frame.
   */
  receive(session: NodeSession, data: Buffer | string, binary = false): Promise<void> | undefined {
    // Timing every frame cost ~6 % of an in-process frame: 1 in ROUTE_SAMPLE_EVERY is timed
    // (at random gaps, so no traffic pattern lines up with them), the rest pay a decrement.
    if (--this.untilRouteSample > 0) return this.handle(session, data, binary);
    this.untilRouteSample = nextRouteSampleGap();
    const began = performance.now();
    const pending = this.handle(session, data, binary);
    this.routeTime.observe((performance.now() - began) / 1000);
    return pending;
  }

  private handle(session: NodeSession, data: Buffer | string, binary: boolean): Promise<void> | undefined {
    if (session.state === "closed") return;
    const now = this.now();
    session.lastSeen = now;
    // before anything parses the frame: a flood costs a token check per frame, nothing more
    if (!this.rate.admit(session, now)) return;
    if (!binary && isLinkBatch(data)) return this.handleBatch(session, data, now);
    const env = this.decode.decode(session, data, binary);
    if (env === undefined) return;
    return this.handleEnvelope(session, env, data);
  }

  /**
   * A link batch: each entry goes on as if it had come alone (its own rate token, checks,
   * authentication and refusal); the message's token above stands for the first entry.
   */
  private handleBatch(session: NodeSession, data: Buffer | string, now: number): Promise<void> | undefined {
    const split = this.decode.split(session, data);
    if (split === undefined) return;
    let pending: Promise<void>[] | undefined;
    const n = split.values.length;
    for (let i = 0; i < n; i++) {
      if (session.state === "closed") break;
      if (i > 0 && !this.rate.admit(session, now)) continue;
      const env = this.decode.entry(session, split.values[i]);
      if (env === undefined) continue;
      const raw = split.raws[i]!;
      const p = this.handleEnvelope(session, env, Buffer.isBuffer(raw) ? raw : Buffer.from(raw));
      if (p === undefined) continue;
      if (pending === undefined) pending = [p];
      else pending.push(p);
    }
    return pending === undefined ? undefined : Promise.all(pending).then(() => undefined);
  }

  private handleEnvelope(
    session: NodeSession,
    env: Envelope,
    data: Buffer | string,
  ): Promise<void> | undefined {
    if (session.state === "attaching") return this.authenticate.attach(session, env);
    if (!this.authenticate.verify(session, env)) return;
    const req = this.route.resolve(session, env, data);
    if (req === undefined) return;
    // tracing off: one field check per frame; on: frames without meta still skip it
    if (this.routeTrace !== undefined && env.meta !== undefined) {
      const span = this.routeTrace.start(env, req);
      if (span !== undefined) return this.routeTrace.finish(span, req, this.dispatch(session, env, req));
    }
    return this.dispatch(session, env, req);
  }

  /** authorize, route and deliver one resolved frame */
  private dispatch(session: NodeSession, env: Envelope, req: RouteRequest): Promise<void> | undefined {
    if (req.kind === "logical" && !this.authenticate.fresh(session, env)) return;
    const refusal = this.authorize.authorize(session, env, req);
    if (refusal !== undefined) {
      this.deliver.nack(session, env, refusal.code, refusal.reason, true);
      return;
    }
    const target = this.route.route(req);
    if (target === undefined) return;
    if (target instanceof Promise) {
      return target.then((node) => {
        // a sender that left while its frame waited has been torn down: forwarding now would
        // leave in-flight entries (and a reply path) that no teardown removes
        if (node !== undefined && !req.requesterGone) this.forward(req, node);
      });
    }
    this.forward(req, target);
    return;
  }

  /** the connection ended (closed, errored or terminated) */
  close(session: NodeSession, why: string): void {
    this.teardown.close(session, why);
  }

  /** periodic: heartbeat misses, senders out of the replay window, stale pending opens, expired in-flight entries, pins */
  sweep(): void {
    const now = this.now();
    this.teardown.closeSilent(now);
    this.authenticate.sweep(now);
    this.pendingOpens.sweep(now);
    this.inflight.sweep(now);
    this.stickiness?.sweep(10_000);
    this.affinity.sweep();
  }

  status(): Record<string, unknown> {
    return sentinelStatus(this.sources);
  }

  /** the pools and running totals the dashboard samples (once a second, while watched) */
  dashboardReading(): DashboardReading {
    return readDashboard(this.sources, this.now());
  }

  /** The Prometheus text page (GET /metrics): same data as status, as metric families. */
  metricsText(): string {
    return sentinelMetricsText(this.sources);
  }

  /**
   * Put an attached node into draining (its own Drain frame, or the operator): no new
   * sessions or channels; its sessions stay for the pool's draining timeout. False if unknown.
   */
  /** whether the node of this system id, attached here, is draining; undefined when none is */
  nodeDraining(systemId: string): boolean | undefined {
    return this.control.nodeDraining(systemId);
  }

  drainNode(systemId: string, by: "node" | "operator"): boolean {
    return this.control.drainNode(systemId, by);
  }

  /**
   * Set by the server in a cluster: tells a node's own sentinel that calls routed to it from
   * here go unanswered (outlier ejection across sentinels).
   */
  stallReporter: ((address: string, nodeId: string) => void) | undefined;

  /**
   * Set by the server in a cluster: tells every sentinel of an ejection made here, so that the
   * member re-attaching to one of them is still out there.
   */
  ejectionReporter: ((address: string, nodeId: string, forMs: number, strikes: number) => void) | undefined;

  /** Another sentinel of the cluster ejected `nodeId` from `address` for `forMs` more. */
  rememberEjection(address: string, nodeId: string, forMs: number, strikes: number): void {
    this.affinity.rememberEjection(address, nodeId, forMs, strikes);
  }

  /** Another sentinel reports that `nodeId`, attached here, leaves its calls unanswered. */
  ejectReported(address: string, nodeId: string, by: string): void {
    this.affinity.ejectReported(address, nodeId, by);
  }

  /** The operator takes a node out of draining (not one draining itself: it is leaving). */
  resumeNode(systemId: string): ResumeResult {
    return this.control.resumeNode(systemId);
  }

  /** hears of the operator drains this sentinel remembers (true) and forgets (false) */
  set drainMemo(tell: ((systemId: string, drained: boolean) => void) | undefined) {
    this.control.onDrainMemo = tell;
  }

  /** another sentinel of the cluster remembers (true) or forgot (false) an operator's drain */
  applyDrainMemo(systemId: string, drained: boolean): void {
    this.control.applyDrainMemo(systemId, drained);
  }

  /** periodic in a cluster (every second): single-active leases renewed, released or claimed */
  tickElections(): void {
    this.affinity.tickElections();
  }

  /** periodic (every few hundred ms): app-level health probes of health-checked pools */
  tickHealth(): void {
    this.affinity.tickHealth();
  }

  /** stop hearing the other sentinels and following the node directory (shutdown) */
  leaveCluster(): void {
    this.cluster?.stop();
  }

  private forward(req: RouteRequest, target: NodeSession): void {
    req.routedTo = target;
    // a replica on another sentinel: routing was decided here, where the client's state lives
    if (target.remote !== undefined) {
      // the cluster carries text: a binary record crosses in its text form
      const text = this.deliver.clusterText(req);
      if (text !== undefined) this.cluster!.route.forward("d", req.session, target, text);
    } else this.deliver.forward(req, target);
    this.account.routed(req, target);
  }
}
