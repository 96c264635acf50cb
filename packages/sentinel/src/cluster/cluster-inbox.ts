import type { Logger } from "@fame/logger";
import type { Envelope } from "@fame/protocol";
import type { PoolRouter } from "../affinity/index.js";
import type { NodeSession } from "../node-session.js";
import type { DeliverStage } from "../pipeline/deliver-stage.js";
import { isClearBatch, NO_CLEAR_BATCHES, type RouteRequest } from "../pipeline/route-request.js";
import type { RouteStage } from "../pipeline/route-stage.js";
import type { SessionTeardown } from "../session-teardown.js";
import type { AFTLoadBalancerStickinessManager } from "../stickiness/index.js";
import type { ClusterInbox } from "./cluster-route.js";

export interface PipelineInboxDeps {
  route: RouteStage;
  deliver: DeliverStage;
  affinity: PoolRouter<NodeSession>;
  stickiness: AFTLoadBalancerStickinessManager | undefined;
  teardown: SessionTeardown;
  log: Logger;
  /** the sentinel's authorize → route → deliver → account for one resolved frame */
  dispatch(sender: NodeSession, env: Envelope, req: RouteRequest): Promise<void> | undefined;
}

/**
 * What peers forward, into this sentinel's pipeline. A physical frame meets the authorize,
 * route, deliver and account stages for its sender's remote session: its checks run here,
 * where the state they read lives (pending opens, calls in flight, pins of this sentinel's
 * clients). A frame routed at the sender's sentinel is delivered as it is.
 */
export function pipelineInbox(d: PipelineInboxDeps): ClusterInbox {
  return {
    forwarded(kind, sender, target, env, raw) {
      if (kind === "d" || sender === undefined) {
        // placed at the sender's sentinel, which cannot know what this node takes
        if (sender !== undefined && !target.clearBatches && isClearBatch(env)) {
          d.deliver.nack(sender, env, "unknown_frame", NO_CLEAR_BATCHES, true);
          return;
        }
        d.deliver.send(target, raw, env);
        return;
      }
      const req = d.route.resolveForwarded(sender, env, raw, target);
      if (req === undefined) return;
      d.dispatch(sender, env, req)?.catch((err: unknown) => d.log.error({ err }, "forwarded frame failed"));
    },
    unroutable(sender, env, reason) {
      d.deliver.nack(sender, env, "no_route", reason, true);
    },
    remoteGone(session, addresses) {
      d.affinity.onNodeLeft(session.id, addresses);
      d.stickiness?.onReplicaLeft(session.id);
      d.teardown.orphaned(session, "left the cluster");
    },
    remoteMoved(session, why) {
      d.teardown.orphaned(session, why, true);
    },
  };
}
