/**
 * Every error code the fabric puts on the wire, with a one-line meaning.
 * This table is the single list: the `ErrorCode` union and `ERROR_CODES` are derived from it,
 * so a code cannot exist in one place and be missing in another.
 */
export const ERROR_CODE_DESCRIPTIONS = {
  bad_envelope: "envelope or frame is malformed or violates the wire format",
  frame_too_large: "frame exceeds the size limit (checked before parsing)",
  unknown_frame: "frame type is not known to this peer",
  no_route: "no attached node serves the destination address",
  address_conflict: "address is already bound by an incompatible owner",
  not_authorized: "sender may not perform this operation",
  reply_to_not_owned: "replyTo is not an address of the sending node",
  session_not_owned: "the affinity session belongs to another client",
  too_many_client_sessions: "the client holds its share of sessions in an exclusive pool",
  ticket_invalid: "attach ticket is malformed, expired or not for this sentinel",
  ticket_replayed: "attach ticket was already used",
  cert_invalid: "certificate chain does not verify or does not match the key",
  logical_not_granted: "logical (or address under it) was not granted to this node",
  signature_missing: "a signature is required but the envelope carries none",
  signature_invalid: "envelope signature does not verify",
  key_unknown: "referenced key id is not known",
  channel_unknown: "referenced secure channel does not exist",
  channel_conflict: "secure channel id is already in use",
  decrypt_failed: "ciphertext did not authenticate or decrypt",
  replay: "envelope or channel sequence number was already seen",
  stale_envelope: "signed envelope's timestamp is outside the receiver's clock-skew window",
  replica_unavailable: "the chosen replica went away before delivery",
  timeout: "operation did not complete in time",
  rate_limited: "sender exceeded its rate limit",
  too_many_sessions: "the sentinel holds as many attached sessions as it allows",
  too_many_inflight: "too many unacknowledged envelopes in flight",
  too_many_channels: "too many open secure channels",
  attach_timeout: "node did not complete attach in time",
  session_conflict: "another session already holds this node identity",
  no_free_replica: "every replica for the address is saturated",
  NOT_ACTIVE: "node or sentinel is not in the active state",
  draining: "peer is draining and accepts no new work",
  state_unavailable:
    "the cluster's shared state cannot record new work now (retry: another sentinel or later)",
  caller_gone: "the caller of this call left before its answer (sent by the sentinel to the callee)",
  channel_closed:
    "the channel the sealed request came on closed before its answer: the answer was withheld (the call ran)",
  internal_error: "unexpected failure inside the peer",
  method_not_found: "RPC method is not provided by the target",
  invalid_params: "RPC parameters are invalid",
} as const;

export type ErrorCode = keyof typeof ERROR_CODE_DESCRIPTIONS;

export const ERROR_CODES: readonly ErrorCode[] = Object.freeze(
  Object.keys(ERROR_CODE_DESCRIPTIONS) as ErrorCode[],
);

/** Own-property check so names like "constructor" or "__proto__" are never taken for codes. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(ERROR_CODE_DESCRIPTIONS, value);
}
