/**
 * Every failure this package reports on purpose is a `CryptoError` with a
 * stable `code`, so callers branch on the code rather than on message text.
 */
export type CryptoErrorCode =
  /** Record sequence number already accepted, or older than the replay window. */
  | "replay"
  /** Record key id does not match the receiving key (peer re-keyed, or wrong channel). */
  | "key_mismatch"
  /** Record's AAD check value does not match the AAD the receiver supplied. */
  | "aad_mismatch"
  /** AEAD tag check failed: ciphertext, tag, nonce or key was altered. */
  | "decrypt_failed"
  /** Sender used up its record budget for this key; derive new keys. */
  | "limit_reached"
  /** Key material is malformed (length) or belongs to another back end. */
  | "bad_key"
  /** Argument outside the accepted domain (lengths, counters, separators). */
  | "bad_input"
  /** X25519 produced the all-zero secret: the peer sent a low-order point. */
  | "weak_shared_secret"
  /** Configuration (environment variable, option) names something invalid. */
  | "bad_config"
  /** Requested back end cannot run in this environment. */
  | "unavailable";

export class CryptoError extends Error {
  override readonly name = "CryptoError";
  readonly code: CryptoErrorCode;

  constructor(code: CryptoErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function isCryptoError(value: unknown, code?: CryptoErrorCode): value is CryptoError {
  return value instanceof CryptoError && (code === undefined || value.code === code);
}
