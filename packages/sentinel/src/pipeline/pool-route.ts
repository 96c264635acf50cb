import type { PoolRouter } from "../affinity/index.js";
import type { NodeSession } from "../node-session.js";
import type { ReplicaPool } from "../routing/index.js";
import type { SentinelCounters } from "../sentinel-counters.js";
import type { AFTLoadBalancerStickinessManager, RouteDecision } from "../stickiness/index.js";
import type { AccountStage } from "./account-stage.js";
import type { DeliverStage } from "./deliver-stage.js";
import type { PendingOpens } from "./pending-opens.js";
import {
  type ChannelRouteRequest,
  isChannelRequest,
  isClearBatch,
  NO_CLEAR_BATCHES,
  type RouteRequest,
} from "./route-request.js";

export interface PoolRouteDeps {
  affinity: PoolRouter<NodeSession>;
  stickiness: AFTLoadBalancerStickinessManager | undefined;
  pendingOpens: PendingOpens;
  account: AccountStage;
  deliver: DeliverStage;
  counters: SentinelCounters;
}

/**
 * Frames to a logical address: which replica of its pool takes them. A channel's frames go
 * where the sticky table pinned the channel; new channels and unpinned traffic are placed by
 * the pool's policy (single-active, session affinity) or its load balancer. Synchronous except
 * when a stateless AFT has to be verified.
 */
export class PoolRoute {
  constructor(private readonly deps: PoolRouteDeps) {}

  /** the replica the frame goes to, undefined when refused (the sender was answered) */
  pick(req: RouteRequest): NodeSession | undefined | Promise<NodeSession | undefined> {
    const d = this.deps;
    const pool = req.pool;
    if (!pool || pool.size === 0) {
      const refusal = d.affinity.refuseEmpty(req.address!);
      if (refusal) d.deliver.nack(req.session, req.env, refusal.code, refusal.reason, true);
      else d.deliver.nack(req.session, req.env, "no_route", `no node serves ${req.address}`);
      return undefined;
    }
    const stickiness = d.stickiness;
    if (stickiness !== undefined && isChannelRequest(req)) {
      if (req.env.aft && req.env.frame.type === "Data") {
        // a sender gone meanwhile is torn down already: its frame goes nowhere (and pins nothing)
        return stickiness
          .routeStateless(req)
          .then((route) => (req.requesterGone ? undefined : this.pinned(req, pool, stickiness, route)));
      }
      return this.pinned(req, pool, stickiness, stickiness.route(req));
    }
    return this.place(req, pool);
  }

  /** what the sticky table said about a channel frame: its replica, a refusal, or placement */
  private pinned(
    req: ChannelRouteRequest,
    pool: ReplicaPool<NodeSession>,
    stickiness: AFTLoadBalancerStickinessManager,
    route: RouteDecision,
  ): NodeSession | undefined {
    const d = this.deps;
    const { session, env } = req;
    const frame = env.frame;
    if (route.kind === "pinned") {
      // the pool's own member object: attached here, or standing for one on another sentinel
      const replica = pool.get(route.replicaId);
      if (replica !== undefined) {
        const veto =
          frame.type === "Data"
            ? d.affinity.checkPinned(
                req.address!,
                pool,
                replica.id,
                req.sessionMeta.sessionId,
                session.sessionOwner,
              )
            : undefined;
        if (veto) {
          d.deliver.nack(session, env, veto.code, veto.reason, true);
          return undefined;
        }
        if (d.account.refusesCalls(req)) return undefined;
        if (frame.type === "SecureClose") stickiness.onSecureClose(session.sid, req.cid);
        return replica;
      }
      d.deliver.nack(session, env, "channel_unknown", "the replica holding this channel is gone", true);
      return undefined;
    }
    if (route.kind === "refused") {
      const reason =
        route.code === "channel_conflict" ? "channel id owned by another client" : "no pin for channel";
      d.deliver.nack(session, env, route.code, reason, true);
      return undefined;
    }
    if (frame.type !== "SecureOpen" && stickiness.securityLevel !== "sid-only") {
      // Channel data with no pin would reach a replica without the keys.
      d.deliver.nack(session, env, "channel_unknown", "no replica holds this channel", true);
      return undefined;
    }
    return this.place(req, pool);
  }

  /**
   * A new channel (or unpinned traffic): the channel quota, then the in-flight caps, then pool
   * policy or the load balancer. The checks come first, so a refused frame leaves no pending
   * open or session placement behind.
   */
  private place(req: RouteRequest, pool: ReplicaPool<NodeSession>): NodeSession | undefined {
    const d = this.deps;
    const { session, env } = req;
    const to = req.address!;
    const frame = env.frame;
    if (frame.type === "SecureOpen") {
      const held = d.pendingOpens.held(session.sid);
      const max = d.pendingOpens.maxChannelsPerClient;
      if (held >= max) {
        d.counters.channelQuotaRefused++;
        d.deliver.nack(
          session,
          env,
          "too_many_channels",
          `${held} channels open or opening (limit ${max})`,
          true,
        );
        return undefined;
      }
      // a cluster that cannot record the pin would strand the channel: refused before any replica sees it
      const down = d.affinity.refuseUnrecordedOpen();
      if (down !== undefined) {
        d.deliver.nack(session, env, down.code, down.reason, true);
        return undefined;
      }
    }
    if (d.account.refusesCalls(req)) return undefined;
    const placed = d.affinity.place(to, pool, req.sessionMeta.sessionId, session.sessionOwner);
    if (placed.kind === "refuse") {
      d.deliver.nack(session, env, placed.code, placed.reason, true);
      return undefined;
    }
    const replica = placed.node;
    if (!replica) {
      d.deliver.nack(session, env, "no_route", `every replica of ${to} is draining or unhealthy`);
      return undefined;
    }
    if (!replica.clearBatches && isClearBatch(env)) {
      // a node of another implementation: nothing was delivered, and the caller stops batching
      d.deliver.nack(session, env, "unknown_frame", NO_CLEAR_BATCHES, true);
      return undefined;
    }
    if (frame.type === "SecureOpen") d.pendingOpens.add(session.sid, frame.cid, replica.id, to);
    return replica;
  }
}
