import type { Address } from "./address.js";
import type { BatchEntry, Frame } from "./frames.js";

export const PROTOCOL_VERSION = 1;

export interface SignatureBlock {
  alg: "EdDSA";
  kid: string;
  /** base64url Ed25519 signature over signingInput(env), 64 bytes. */
  val: string;
}

export interface EncryptionBlock {
  alg: "chacha20-poly1305-channel";
  cid: string;
  /** Per-channel sequence number, starting at 1; receivers refuse repeats. */
  seq: number;
  kid: string;
  /** base64url check value binding the ciphertext to aeadAad(env). */
  ac: string;
}

/** At least one of `sig` / `enc` is present. */
export interface SecurityBlock {
  sig?: SignatureBlock;
  enc?: EncryptionBlock;
}

export type MetaValue = string | number | boolean;

export interface Envelope<F extends Frame = Frame> {
  v: typeof PROTOCOL_VERSION;
  id: string;
  /** Sender's sid (base62, see sidFromPath). */
  sid: string;
  to?: Address;
  replyTo?: Address;
  corrId?: string;
  /** Milliseconds since the epoch, integer. */
  ts: number;
  ttlMs?: number;
  frame: F;
  sec?: SecurityBlock;
  /** Compact JWS (authorization/forwarding token). */
  aft?: string;
  meta?: Record<string, MetaValue>;
}

/**
 * Channel data: a Data frame sealed with a channel's keys (codec "enc"). Its AEAD tag
 * authenticates sender and immutable headers end to end, so it travels unsigned; every
 * other envelope is signed in the overlay profiles (docs/performance.md has the reasoning).
 */
export function isSealedData(env: Envelope): boolean {
  return env.frame.type === "Data" && env.frame.codec === "enc";
}

/** The message list of a coalesced channel record, or undefined for a single-message envelope. */
export function batchOf(env: Envelope): readonly BatchEntry[] | undefined {
  const frame = env.frame;
  return frame.type === "Data" ? frame.batch : undefined;
}
