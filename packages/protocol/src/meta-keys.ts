/**
 * Envelope meta keys that nodes and the sentinel both read or write. One definition, so a
 * node and the sentinel cannot disagree on a spelling.
 */

/** Session affinity: the session a call belongs to (client-set, so untrusted at the sentinel). */
export const SESSION_ID_META = "session-id";

/** Session affinity: `"true"` on the session's last call. */
export const SESSION_END_META = "session-end";

/** `true` on a stream item: more messages of this conversation follow. */
export const MORE_META = "more";

/** `true` on a negative DeliveryAck when the refused request never reached the agent's code. */
export const NOT_EXECUTED_META = "notExecuted";

/**
 * `true` on a negative DeliveryAck for a channel frame lost in transit while the channel's
 * replica moved to another sentinel: the replica still holds the channel, so a resend goes on
 * the same channel (no new handshake).
 */
export const CHANNEL_KEPT_META = "channelKept";

/**
 * On the sentinel's `caller_gone` DeliveryAck to a callee: the sid of the caller whose
 * connection ended, so the callee aborts that caller's call (keyed by caller and corrId).
 */
export const CALLER_SID_META = "callerSid";

/**
 * CallContext.meta key holding the cid of the channel a sealed call arrived on. Set by the
 * receiving node, never taken from the sender's meta, so agents may log it (e.g. to check
 * channel stickiness).
 */
export const CHANNEL_META_KEY = "fame.cid";

/**
 * The hop-level W3C traceparent a traced call's envelope carries in the clear, so the
 * sentinel can link its route span into the caller's trace. Not covered by the signature or
 * the channel AEAD (meta never is): receivers take their parent from the copy inside the
 * request, and the sentinel validates this one strictly and otherwise ignores it.
 */
export const TRACEPARENT_META = "traceparent";

/**
 * `true` on a clear message: its sender takes clear batches (`Data.batch` with codec json) at
 * its `replyTo` address. Offered by the sender, never assumed by the receiver: a node that
 * never offered it (a hand-written client, an older SDK) is answered one message per envelope.
 */
export const CLEAR_BATCH_META = "clearBatch";

/**
 * NodeAttach capability: the node takes clear batches addressed to its logicals (calls a pool's
 * sentinel placed on it as one envelope). A sentinel that routes clear batches to pools answers
 * `NodeAttachAck.poolBatches` to a node announcing it, and places a batch only on a replica that
 * announced it (docs/protocol.md "Clear batches").
 */
export const CLEAR_BATCH_CAPABILITY = "clear-batch";
