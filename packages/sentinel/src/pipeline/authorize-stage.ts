import { addressHasName, batchOf, type Envelope, type ErrorCode } from "@fame/protocol";
import type { PoolRouter, Refusal, SessionLimits } from "../affinity/index.js";
import type { InflightTracker } from "../inflight-tracker.js";
import type { NodeSession } from "../node-session.js";
import { type AccessPolicy, OPEN_ACCESS } from "../policy/access-policy.js";
import type { LogicalRegistry } from "../routing/logical-registry.js";
import type { SentinelCounters } from "../sentinel-counters.js";
import type { AFTLoadBalancerStickinessManager } from "../stickiness/index.js";
import type { PendingOpens } from "./pending-opens.js";
import type { RouteRequest } from "./route-request.js";

/**
 * The authorize stage: may this authenticated sender do what this frame would do?
 *
 * Called once per frame, after authentication and after the route stage has resolved, without
 * side effects, what the frame would touch (`route`: its kind, the node addressed, the logical
 * address and pool, the channel id, the calls it carries) and before anything is changed: a
 * refusal is answered to the sender with a negative DeliveryAck carrying its code, marked not
 * executed, and the frame goes no further — no pin, pending open, in-flight entry or placement.
 *
 * Runs on every frame, so an implementation must stay O(1) and allocation-free:
 * - return `undefined` to allow, and module-level frozen `Refusal` constants to refuse (no
 *   per-frame reason strings);
 * - read state by single lookups: the fields of `route`, the sender's `NodeSession`, the session
 *   directory or the sticky table held in the implementation's own fields (e.g. "only the
 *   pinned client or replica may SecureClose a channel" is one pin lookup by `route.cid`;
 *   "replyTo must be the sender's own address" compares `env.replyTo` with `sender.path`);
 * - keep per-connection state (a rate limiter's tokens) on the session or in a map keyed by it,
 *   updated in place, never a new object per frame.
 */
export interface AuthorizeStage {
  authorize(sender: NodeSession, env: Envelope, route: RouteRequest): Refusal | undefined;
}

/** Allows every frame: authentication and the route checks are, for now, the whole policy. */
export class PermissiveAuthorizer implements AuthorizeStage {
  authorize(_sender: NodeSession, _env: Envelope, _route: RouteRequest): Refusal | undefined {
    return undefined;
  }
}

/** The codes `FrameAuthorizer` refuses with; each has its counter slot from the start. */
export const AUTHZ_CODES = [
  "not_authorized",
  "reply_to_not_owned",
  "session_not_owned",
  "too_many_client_sessions",
] as const satisfies readonly ErrorCode[];
export type AuthzCode = (typeof AUTHZ_CODES)[number];

const refusal = (code: AuthzCode, reason: string): Refusal => Object.freeze({ code, reason });

/** replyTo names another node: its replies (and a replica's per-caller state) are not ours to touch */
export const REPLY_TO_NOT_OWNED = refusal(
  "reply_to_not_owned",
  "replyTo must be an address of the sending node",
);
/** a SecureClose from neither end of the channel */
export const NOT_CHANNEL_PARTY = refusal(
  "not_authorized",
  "only the channel's client or its pinned replica may close it",
);
/** a SecureAccept from a node other than the replica the open went to */
export const NOT_ASKED_REPLICA = refusal(
  "not_authorized",
  "only the replica asked to open this channel may answer it",
);
/** channels are opened to a logical address, where quota, in-flight and placement apply */
export const PHYSICAL_OPEN = refusal(
  "not_authorized",
  "channels open to a logical address, not to a node's physical address",
);
/** an answer, for a call in flight, from a node other than the replica the call went to */
export const NOT_CALLEE = refusal("not_authorized", "only the replica a call was routed to may answer it");
/** the access policy does not let this node call the address */
export const CALL_NOT_ALLOWED = refusal(
  "not_authorized",
  "the access policy does not let this node call this address (check its spelling: the policy's call rules name the addresses each credential may call)",
);
/** `name@/path` reaches the agent the node serves as `name@…`, which the policy keeps from this node */
export const PHYSICAL_CALL_NOT_ALLOWED = refusal(
  "not_authorized",
  "the access policy does not let this node call the agent at this physical address",
);
/** key announcements come from the sentinel, which vouches for the key's owner */
export const SENTINEL_ONLY = refusal("not_authorized", "only the sentinel sends KeyAnnounce");

export interface FrameAuthorizerDeps {
  /** channel pins: who may close a channel */
  stickiness: AFTLoadBalancerStickinessManager | undefined;
  /** opens awaiting their accept: who may answer one */
  pendingOpens: PendingOpens;
  /** session-affinity tables: who owns a session, how many a client holds */
  affinity: PoolRouter<NodeSession>;
  /** who may call what (OPEN_ACCESS when unconfigured) */
  policy: AccessPolicy;
  /** which addresses a node serves: what a request to its physical address reaches */
  registry: Pick<LogicalRegistry<NodeSession>, "boundBy">;
  /** calls in flight: who may answer one */
  inflight: InflightTracker;
  counters: SentinelCounters;
  /** how many affinity sessions one client, and one principal, may hold in a pool */
  sessionLimits: SessionLimits;
}

/**
 * The sentinel's authorize stage: an admitted node may touch only its own channels, sessions
 * and reply addresses, and call only what the access policy lets it.
 *
 * - `replyTo` must be an address of the sender's own node (`name@<its path>`): a replica keys
 *   streams and calls by replyTo + corrId, so a foreign replyTo would reach another caller's
 *   state (or send our replies to it).
 * - SecureClose to a physical address changes a pin only when it comes from the channel's
 *   client or its pinned replica (to the logical address, the sticky table already refuses any
 *   other client's channel frames with channel_conflict); SecureAccept only from the replica
 *   the open was sent to.
 * - SecureOpen goes to a logical address: sent to a physical one it would bypass the channel
 *   quota, in-flight tracking and placement (the SDK never opens a channel that way).
 * - A session id is a name, not a key: only the client that created the session (its
 *   principal and process instance, `NodeSession.sessionOwner`) may use, end or move it; in an
 *   exclusive pool a client may hold only so many sessions.
 * - A call in flight is answered only by the replica it was routed to (replies are matched by
 *   corrId, so another node could otherwise answer it).
 * - Every frame to a logical address needs `policy.mayCall` (a nack or a close reaches the
 *   pool's replicas as much as a call does); Data to a physical address `name@/path` needs it
 *   for the logical addresses the node serves under that name (mayCallPhysical).
 * - KeyAnnounce comes from the sentinel only: a node's copy would answer another node's
 *   KeyRequest.
 *
 * Every check is a comparison or one Map lookup (mayCallPhysical: one per address the target
 * binds, and only with a policy configured); refusals are the frozen constants above and
 * are counted per code in slots created here, so a frame costs no allocation.
 */
export class FrameAuthorizer implements AuthorizeStage {
  /** refusals per code, for the status page and /metrics (slots fixed at construction) */
  readonly refusals: Record<AuthzCode, number>;

  constructor(private readonly deps: FrameAuthorizerDeps) {
    const slots = {} as Record<AuthzCode, number>;
    for (const code of AUTHZ_CODES) slots[code] = 0;
    this.refusals = slots;
  }

  authorize(sender: NodeSession, env: Envelope, route: RouteRequest): Refusal | undefined {
    const refused = this.check(sender, env, route);
    if (refused !== undefined) {
      this.deps.counters.authzRefused++;
      this.refusals[refused.code as AuthzCode]++;
    }
    return refused;
  }

  private check(sender: NodeSession, env: Envelope, route: RouteRequest): Refusal | undefined {
    const replyTo = env.replyTo;
    if (replyTo && !ownsAddress(sender.path, replyTo)) return REPLY_TO_NOT_OWNED;
    const frame = env.frame;
    if (frame.type === "KeyAnnounce") return SENTINEL_ONLY;
    switch (route.kind) {
      case "physical": {
        if (frame.type === "SecureOpen") return PHYSICAL_OPEN;
        // An answer goes to the reply address its caller named, whatever the policy says of
        // calls to that name: refusing it left the call unanswered, and its honest replica
        // ejected as stalled (audit round 13). Looked up only when the policy would refuse.
        if (
          frame.type === "Data" &&
          !this.mayCallPhysical(sender, route.target!, route.name) &&
          !this.deps.inflight.answersAt(sender.id, route.target!.id, env)
        )
          return PHYSICAL_CALL_NOT_ALLOWED;
        if (frame.type === "SecureClose") return this.mayClosePhysical(sender, route.target!, frame.cid);
        if (frame.type === "SecureAccept") {
          const pending = this.deps.pendingOpens.get(route.target!.sid, frame.cid);
          if (pending !== undefined && pending.replicaId !== sender.id) return NOT_ASKED_REPLICA;
        }
        return this.answersAnothersCall(sender, route.target!, env) ? NOT_CALLEE : undefined;
      }
      case "logical": {
        const address = route.address!;
        if (!this.deps.policy.mayCall(sender, address)) return CALL_NOT_ALLOWED;
        const sessionId = route.sessionMeta.sessionId;
        if (sessionId === undefined) return undefined;
        return this.deps.affinity.sessionAccess(
          address,
          sessionId,
          sender.sessionOwner,
          this.deps.sessionLimits,
        );
      }
      default:
        return undefined;
    }
  }

  /**
   * A node serves its agents at its physical address too: `name@/path` reaches the one it
   * serves as `name@<logical>` (nodes dispatch by that name). So Data there is held to the
   * policy of those logical addresses: allowed when the sender may call one of them, or when
   * the node serves nothing by that name (a reply address such as `rpc@/path`). With no policy
   * configured everyone may call everything and nothing is looked up.
   */
  private mayCallPhysical(sender: NodeSession, target: NodeSession, name: string): boolean {
    const policy = this.deps.policy;
    if (policy === OPEN_ACCESS) return true;
    const bound = this.deps.registry.boundBy(target.id);
    if (bound === undefined) return true;
    let named = false;
    for (const address of bound) {
      if (!addressHasName(address, name)) continue;
      if (policy.mayCall(sender, address)) return true;
      named = true;
    }
    return !named;
  }

  /**
   * Would this frame answer a call of `target` that went to another replica? A reply is
   * matched by its corrId (or, lacking one, its id), so without this a node could answer
   * someone else's call. Calls not
   * tracked (to physical addresses, or already answered) have no callee to compare with.
   */
  private answersAnothersCall(sender: NodeSession, target: NodeSession, env: Envelope): boolean {
    const inflight = this.deps.inflight;
    const batch = batchOf(env);
    if (batch !== undefined) {
      for (const entry of batch) {
        const callee = inflight.replicaOf(target.id, entry.corrId);
        if (callee !== undefined && callee !== sender.id) return true;
      }
      return false;
    }
    // Without a corrId a node takes the envelope's id for its conversation (a first message
    // names itself), so an id equal to a call's corrId answers that call just the same.
    const callee = inflight.replicaOf(target.id, env.corrId ?? env.id);
    return callee !== undefined && callee !== sender.id;
  }

  /**
   * A SecureClose to `target`'s physical address: the pinned replica closing towards its
   * client, or the client towards its replica. With no pin there is nothing to unpin, and the
   * receiving node itself ignores a SecureClose from anyone but the channel's peer.
   */
  private mayClosePhysical(sender: NodeSession, target: NodeSession, cid: string): Refusal | undefined {
    // In a cluster the pin may have been made at another sentinel: its store is keyed by client.
    const stickiness = this.deps.stickiness;
    const pin = stickiness?.pinOf(cid, target.sid) ?? stickiness?.pinOf(cid, sender.sid);
    if (pin === undefined) return undefined;
    if (pin.replica.id === sender.id && pin.clientSid === target.sid) return undefined;
    if (pin.clientSid === sender.sid && pin.replica.id === target.id) return undefined;
    return NOT_CHANNEL_PARTY;
  }
}

/**
 * Is `address` an address of the node at physical `path`, i.e. `name@<path>` with a name?
 * Compared in place (no parse, no substring), so checking every frame's replyTo allocates nothing.
 */
export function ownsAddress(path: string, address: string): boolean {
  const at = address.length - path.length - 1;
  return at > 0 && path.length > 0 && address.charCodeAt(at) === 64 /* @ */ && address.endsWith(path);
}
