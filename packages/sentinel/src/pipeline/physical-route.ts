import type { Logger } from "@fame/logger";
import { type Envelope, type Frame, makeEnvelope } from "@fame/protocol";
import type { PoolRouter } from "../affinity/index.js";
import type { InflightTracker } from "../inflight-tracker.js";
import type { NodeSession } from "../node-session.js";
import type { LogicalRegistry } from "../routing/index.js";
import type { SentinelCounters } from "../sentinel-counters.js";
import type { AFTLoadBalancerStickinessManager, PinResult } from "../stickiness/index.js";
import type { AccountStage } from "./account-stage.js";
import type { DeliverStage } from "./deliver-stage.js";
import type { PendingOpen, PendingOpens } from "./pending-opens.js";
import type { RouteRequest } from "./route-request.js";

type SecureAccept = Extract<Frame, { type: "SecureAccept" }>;

export interface PhysicalRouteDeps {
  sid: string;
  registry: LogicalRegistry<NodeSession>;
  affinity: PoolRouter<NodeSession>;
  stickiness: AFTLoadBalancerStickinessManager | undefined;
  pendingOpens: PendingOpens;
  inflight: InflightTracker;
  account: AccountStage;
  deliver: DeliverStage;
  counters: SentinelCounters;
  log: Logger;
}

/**
 * Frames to a node's physical address `name@/path`: mostly replies. A reply completes its
 * calls; a SecureClose drops the channel's pin; a SecureAccept pins the channel to the replica
 * that was asked to open it, before the client hears of it (the one case that answers with a
 * promise: checking an AFT is asynchronous).
 */
export class PhysicalRoute {
  constructor(private readonly deps: PhysicalRouteDeps) {}

  /** the node the frame goes to, undefined when refused */
  pick(req: RouteRequest): NodeSession | undefined | Promise<NodeSession | undefined> {
    const d = this.deps;
    const { session, env } = req;
    const target = req.target!;
    const frame = env.frame;
    if (frame.type === "Data" || frame.type === "SecureOpen") {
      // A standby of a single-active pool takes no calls, even addressed to it directly; but an
      // answer to its own call, at the reply address it named, is its to receive (refused, it
      // left the call unanswered and the honest replica ejected as stalled: audit round 13).
      const refusal = d.affinity.checkPhysical(req.name, target.id, d.registry.addressesOf(target.id));
      if (refusal && !(frame.type === "Data" && d.inflight.answersAt(session.id, target.id, env))) {
        d.deliver.nack(session, env, refusal.code, refusal.reason, true);
        return undefined;
      }
    }
    d.account.replied(session, target, env);
    if (frame.type === "SecureClose") d.stickiness?.onSecureClose(target.sid, frame.cid);
    if (frame.type !== "SecureAccept" || !frame.ok) return target;
    const pending = d.pendingOpens.get(target.sid, frame.cid);
    if (!pending || pending.replicaId !== session.id || pending.accepting) {
      // Refused, it changes nothing: a stranger's accept must not cost the client its pending open.
      d.deliver.nack(
        session,
        env,
        "channel_unknown",
        "SecureAccept for a channel this replica was not asked to open",
      );
      return undefined;
    }
    const stickiness = d.stickiness;
    if (!stickiness) {
      d.pendingOpens.drop(pending);
      return target;
    }
    // Until the pin exists (checking an AFT is asynchronous) the channel stays counted as
    // pending, so opens arriving meanwhile cannot slip past the client's channel quota.
    pending.accepting = true;
    return this.pinAccepted(stickiness, session, target, env as Envelope<SecureAccept>, pending);
  }

  /** Pin before the client hears of the channel, so its first data frame finds the pin. */
  private async pinAccepted(
    stickiness: AFTLoadBalancerStickinessManager,
    replica: NodeSession,
    client: NodeSession,
    env: Envelope<SecureAccept>,
    pending: PendingOpen,
  ): Promise<NodeSession | undefined> {
    const d = this.deps;
    const frame = env.frame;
    let result: PinResult;
    try {
      result = await stickiness.onSecureAccept({
        address: pending.address,
        replicaId: replica.id,
        replicaSid: replica.sid,
        clientSid: client.sid,
        cid: frame.cid,
        aft: frame.aft,
      });
    } finally {
      // pinned or not, the open is no longer pending (unless a sweep or a new open replaced it)
      d.pendingOpens.drop(pending);
    }
    if (result.pinned) {
      // Either end may have left while the tag was verified, its teardown already run: the pin
      // would stay behind it (a departed client's until its AFT expires), so it goes again.
      if (client.state !== "closed" && replica.state !== "closed") return client;
      stickiness.onSecureClose(client.sid, frame.cid);
      return undefined;
    }
    // At every level: a channel without a pin could carry nothing (its data is refused with
    // channel_unknown), so the client hears at once instead of holding a dead channel.
    const unrecorded = result.reason === "state_unavailable";
    if (unrecorded)
      d.log.warn({ replica: replica.systemId }, "channel not opened: the cluster cannot record its pin");
    else
      d.log.warn({ replica: replica.systemId, cid: frame.cid, reason: result.reason }, "AFT refused: no pin");
    // The client's open fails fast and it may try again; the replica's accept goes no further.
    d.counters.refused++;
    d.deliver.send(
      client,
      makeEnvelope({
        sid: d.sid,
        to: env.to,
        corrId: env.corrId ?? frame.cid,
        frame: {
          type: "DeliveryAck",
          ok: false,
          refId: env.id,
          code: unrecorded ? "state_unavailable" : "channel_unknown",
          reason: unrecorded
            ? "the cluster cannot record the channel's pin now"
            : "replica affinity tag refused",
        },
        meta: { notExecuted: true },
      }),
    );
    return undefined;
  }
}
