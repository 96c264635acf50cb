import type { ErrorCode } from "@fame/protocol";

/** Codes that prove a request never reached the agent's code, so a resend is safe. */
export const NOT_DELIVERED: ReadonlySet<string> = new Set<ErrorCode>([
  "channel_unknown",
  "channel_conflict",
  "no_route",
  "signature_missing",
  "signature_invalid",
  "key_unknown",
  "too_many_inflight",
  "rate_limited",
  "decrypt_failed",
  "replay",
  "bad_envelope",
  "not_authorized",
  "draining",
  "state_unavailable",
]);

/**
 * Codes after which a channel is dead to its client: the next call opens a fresh one.
 * `channel_conflict` on its data: a sentinel holds the channel id for another client (one that
 * pinned the same id through another sentinel of a cluster while this client's was elsewhere);
 * keeping the id would refuse every call until the channel is re-keyed, an hour on.
 */
export const CHANNEL_LOST: ReadonlySet<string> = new Set<ErrorCode>([
  "channel_unknown",
  "channel_closed",
  "channel_conflict",
  "decrypt_failed",
  "replica_unavailable",
]);

/** the fame code of a failure thrown below the RPC layer, `fallback` when it names none */
export function codeOf(err: unknown, fallback: string): string {
  return (err as { code?: string }).code ?? fallback;
}
