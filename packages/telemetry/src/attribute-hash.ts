/**
 * Identifiers that must not reach a tracing backend in the clear. A channel id names a live
 * channel on the wire (a SecureClose names it too), so spans carry a digest instead: the same
 * cid gives the same value in the client's and the replica's spans, which is all a trace
 * reader needs, and the value cannot be turned back into the cid.
 */
import { createHash } from "node:crypto";

/** 16 hex characters of SHA-256 over a domain-separated input. */
export function hashAttribute(kind: string, value: string): string {
  return createHash("sha256").update(`fame.${kind}\u0000${value}`).digest("hex").slice(0, 16);
}
