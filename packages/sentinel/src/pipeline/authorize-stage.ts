import type { Envelope } from "@fame/protocol";
import type { Refusal } from "../affinity/index.js";
import type { NodeSession } from "../node-session.js";
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
