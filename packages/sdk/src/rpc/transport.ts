/**
 * The boundary between the RPC layer and the network connection that carries it.
 * The RPC layer never touches sockets, envelopes or channels: it hands JSON payloads to an
 * `RpcOutbound` and is fed decoded payloads through `RpcEndpoint.handleIncoming`.
 */
import type { JsonObject, JsonValue } from "@fame/protocol";
import type { CallerIdentity } from "./call-context.js";

export type { JsonObject, JsonValue };

/** What the connection layer knows about one incoming Data payload. */
export interface RpcMessageMeta {
  /** Correlation id of the envelope; requests and all their responses share it. */
  corrId: string;
  /** Reply address of the sender (where responses to this message go). */
  from?: string;
  /**
   * Destination address of the envelope. Needed only when one endpoint serves several agents:
   * with a single served agent, requests without `to` go to that agent.
   */
  to?: string;
  meta?: Record<string, string>;
  /**
   * The verified sid of the sender (its signature's or its channel's). Streams, duplicate
   * detection and call slots are keyed by it, so a stranger naming another caller's reply
   * address and corrId touches nothing. Absent only on in-process transports, where the
   * reply address stands in.
   */
  sender?: string;
  /** what else is known of the sender (from its certificate); one shared object per peer */
  caller?: CallerIdentity;
  /**
   * Sent in clear by the node's own sentinel (its health probes), as the connection to it
   * proves: such calls run in reserved slots (dispatcher SENTINEL_SLOTS). Never set from a
   * message's content.
   */
  fromSentinel?: boolean;
}

/** How one payload is sent: its conversation, its envelope meta, and who wants to know the channel. */
export interface SendOptions {
  corrId: string;
  meta?: Record<string, string>;
  /** set by traced calls only: told the cid of the channel the payload leaves on */
  onChannel?: (cid: string) => void;
  /**
   * The payload's JSON text, when the sender made it already: exactly JSON.stringify(payload).
   * A transport that writes text may use it instead of serializing the payload again.
   */
  json?: string;
  /**
   * An answer to a request that came on a secure channel: that channel's id. The answer leaves
   * on that channel or not at all, never in clear.
   */
  channel?: string;
}

/** What the connection layer gives the RPC layer: send one Data payload to an address. */
export interface RpcOutbound {
  /**
   * Send one payload. A failure (a throw, or a rejection) means the payload was not handed to
   * the network; fail with an `RpcError` carrying a fame code (and `notExecuted: true` when
   * nothing left this node) so the caller's retry policy can classify it. An implementation
   * that hands the payload over at once may return nothing: no promise per message.
   */
  send(to: string, payload: JsonValue, m: SendOptions): Promise<void> | undefined;
  /** This node's own reply address (where responses to our calls come back). */
  readonly replyAddress: string;
  /**
   * The transport writes calls as JSON text (a sealed channel's plaintext): a caller that can
   * make a request's text cheaply passes it along (SendOptions.json). Read per call.
   */
  readonly prefersJsonText?: boolean;
  /** Optional: claim `address` at the sentinel before requests for it can arrive. */
  bind?(address: string): Promise<void>;
  /** Optional: release an address claimed with `bind`. */
  unbind?(address: string): Promise<void>;
}

/** How the transport knows a message failed, for the retry decision. */
export interface FailCallOptions {
  /** the request cannot have reached user code (so resending cannot repeat a side effect) */
  notExecuted?: boolean;
  /**
   * The node re-attached moments ago, so the fabric around it may still be re-forming (replicas
   * binding again after a sentinel restart): a `no_route` now is likely gone in a moment.
   */
  settling?: boolean;
}

/** What the connection layer gives the RPC layer: incoming payloads and delivery failures. */
export interface RpcInbound {
  /**
   * One incoming Data payload; never throws. Returns false when nothing served here takes it
   * (not a request, nor control of a stream running here): a caller who sent it to a served
   * address is then refused, which answers it. An implementation that returns nothing is taken
   * to have handled everything.
   */
  handleIncoming(payload: unknown, m: RpcMessageMeta): boolean | undefined;
  /** The message for `corrId` was not delivered; false when no call waits on it. */
  failCall(corrId: string, code: string, reason: string, options?: FailCallOptions): boolean;
  /** The caller `sender` left (its sentinel says so): its call `corrId` served here is cancelled. */
  cancelServed?(sender: string, corrId: string): boolean;
  /** Every pending call failed at once (the connection is gone); returns how many. */
  failAll(code: string, reason: string, options?: FailCallOptions): number;
}

/**
 * Runs `outbound.send` and reports its failure, thrown or rejected, to `onFailure`; returns
 * the promise to wait on when the send did not complete at once.
 */
export function sendVia(
  outbound: RpcOutbound,
  to: string,
  payload: JsonValue,
  m: SendOptions,
  onFailure: (err: unknown) => void,
): Promise<void> | undefined {
  let pending: Promise<void> | undefined;
  try {
    pending = outbound.send(to, payload, m);
  } catch (err) {
    onFailure(err);
    return undefined;
  }
  return pending?.then(undefined, onFailure);
}
