import { type Envelope, tryParseAddress } from "@fame/protocol";
import { isSessionMetaError, type PoolRouter } from "../affinity/index.js";
import type { ClusterRoute } from "../cluster/cluster-route.js";
import type { NodeSession } from "../node-session.js";
import type { LogicalRegistry } from "../routing/index.js";
import type { SessionDirectory } from "../session-directory.js";
import type { ControlFrames } from "./control-frames.js";
import { isControlFrame } from "./control-frames.js";
import type { DeliverStage } from "./deliver-stage.js";
import type { PhysicalRoute } from "./physical-route.js";
import type { PoolRoute } from "./pool-route.js";
import { callsToTrack, channelOf, RouteRequest } from "./route-request.js";

export interface RouteDeps {
  sid: string;
  registry: LogicalRegistry<NodeSession>;
  directory: SessionDirectory;
  affinity: PoolRouter<NodeSession>;
  control: ControlFrames;
  physical: PhysicalRoute;
  pools: PoolRoute;
  deliver: DeliverStage;
  /** nodes attached to other sentinels; undefined on a single sentinel */
  cluster: ClusterRoute | undefined;
}

/**
 * The route stage, in two steps around authorization. `resolve` reads what a frame would touch
 * (registry, session directory, address parsing) without changing anything; `route` then acts
 * on it: control frames are answered here, frames to a physical address go to that node
 * (`PhysicalRoute`), frames to a logical address to a replica of its pool (`PoolRoute`:
 * stickiness, pool policy, load balancing).
 */
export class RouteStage {
  /** the sentinel's own physical path: health probes are answered to it */
  private readonly ownPath: string;

  constructor(private readonly deps: RouteDeps) {
    this.ownPath = `/${deps.sid}`;
  }

  /** What `env` would touch; undefined when it cannot be routed (the sender was answered). */
  resolve(session: NodeSession, env: Envelope, raw: Buffer | string | undefined): RouteRequest | undefined {
    const d = this.deps;
    const req = new RouteRequest(session, env, raw);
    if (isControlFrame(env.frame.type)) return req;
    const to = env.to;
    if (!to) {
      d.deliver.nack(session, env, "bad_envelope", `${env.frame.type} needs a destination (to)`);
      return undefined;
    }
    const parsed = tryParseAddress(to);
    if (!parsed) {
      d.deliver.nack(session, env, "bad_envelope", "unparseable destination");
      return undefined;
    }
    req.cid = channelOf(env);
    if ("path" in parsed) {
      if (parsed.path === this.ownPath) {
        req.kind = "probe";
        return req;
      }
      const target = d.directory.byPath(parsed.path) ?? d.cluster?.byPath(parsed.path);
      if (!target) {
        d.deliver.nack(session, env, "no_route", `no node at ${to}`);
        return undefined;
      }
      req.kind = "physical";
      req.target = target;
      req.name = parsed.name;
      return req;
    }
    const sessionMeta = d.affinity.sessionMeta(env.meta);
    if (isSessionMetaError(sessionMeta)) {
      d.deliver.nack(session, env, sessionMeta.code, sessionMeta.reason, true);
      return undefined;
    }
    req.kind = "logical";
    req.address = to;
    req.pool = d.registry.resolve(to);
    req.sessionMeta = sessionMeta;
    req.calls = callsToTrack(env);
    return req;
  }

  /**
   * A frame another sentinel forwarded for `target`, attached here, to its physical address:
   * resolved like one from a local sender, except that it may only name `target` (a frame is
   * forwarded once, never on to a third sentinel). Undefined when refused (the sender was answered).
   */
  resolveForwarded(
    sender: NodeSession,
    env: Envelope,
    raw: Buffer,
    target: NodeSession,
  ): RouteRequest | undefined {
    const d = this.deps;
    const parsed =
      env.to === undefined || isControlFrame(env.frame.type) ? undefined : tryParseAddress(env.to);
    if (parsed === undefined || !("path" in parsed) || parsed.path !== target.path) {
      d.deliver.nack(sender, env, "no_route", "forwarded frame does not name a node of this sentinel", true);
      return undefined;
    }
    const req = new RouteRequest(sender, env, raw);
    req.kind = "physical";
    req.target = target;
    req.name = parsed.name;
    req.cid = channelOf(env);
    return req;
  }

  /**
   * The node an authorized frame goes to; undefined when it stops here (answered by the
   * sentinel, or refused). A promise only while a SecureAccept is pinned or a stateless AFT
   * is checked.
   */
  route(req: RouteRequest): NodeSession | undefined | Promise<NodeSession | undefined> {
    const d = this.deps;
    switch (req.kind) {
      case "control":
        d.control.handle(req.session, req.env);
        return undefined;
      case "probe":
        // Answers to the sentinel's own health probes (health@/<sentinel id>).
        if (!d.affinity.onProbeReply(req.session.id, req.env) && req.env.frame.type !== "DeliveryAck")
          d.deliver.nack(req.session, req.env, "no_route", "no probe of this sentinel awaits that answer");
        return undefined;
      case "physical":
        // Its checks need state the target's sentinel owns (pending opens, calls in flight):
        // they run there, for the sender as this sentinel attests it.
        if (req.target!.remote !== undefined) {
          // the cluster carries text: a binary record crosses in its text form
          const text = d.deliver.clusterText(req);
          if (text !== undefined) d.cluster!.forward("p", req.session, req.target!, text);
          return undefined;
        }
        return d.physical.pick(req);
      case "logical":
        return d.pools.pick(req);
    }
  }
}
