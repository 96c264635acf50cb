import { assertBytes } from "../bytes.js";
import { CryptoError } from "../errors.js";
import {
  AEAD_KEY_LENGTH,
  AEAD_NONCE_LENGTH,
  AEAD_TAG_LENGTH,
  HKDF_SHA256_MAX_LENGTH,
  X25519_KEY_LENGTH,
} from "./types.js";

// Argument checks shared by both back ends, so they reject the same inputs
// with the same error codes instead of leaking library-specific exceptions.

export function checkAeadArgs(key: unknown, nonce: unknown, data: unknown, aad: unknown): void {
  assertBytes(key, "AEAD key", AEAD_KEY_LENGTH, "bad_key");
  assertBytes(nonce, "AEAD nonce", AEAD_NONCE_LENGTH);
  assertBytes(data, "AEAD input");
  assertBytes(aad, "AEAD aad");
}

export function checkSealedLength(sealed: Uint8Array): void {
  if (sealed.length < AEAD_TAG_LENGTH) {
    throw new CryptoError("decrypt_failed", "sealed input is shorter than the authentication tag");
  }
}

export function checkHkdfLength(length: number): void {
  if (!Number.isInteger(length) || length < 1 || length > HKDF_SHA256_MAX_LENGTH) {
    throw new CryptoError("bad_input", `HKDF length must be an integer in 1..${HKDF_SHA256_MAX_LENGTH}`);
  }
}

export function checkX25519Args(secretKey: unknown, peerPublicKey?: unknown): void {
  assertBytes(secretKey, "X25519 secret key", X25519_KEY_LENGTH, "bad_key");
  if (peerPublicKey !== undefined)
    assertBytes(peerPublicKey, "X25519 public key", X25519_KEY_LENGTH, "bad_key");
}

export function checkRandomLength(length: number): void {
  if (!Number.isInteger(length) || length < 0) {
    throw new CryptoError("bad_input", "random length must be a non-negative integer");
  }
}

export function weakSharedSecret(cause?: unknown): CryptoError {
  return new CryptoError(
    "weak_shared_secret",
    "X25519 shared secret is all zero: peer public key has low order",
    cause === undefined ? undefined : { cause },
  );
}

export function checkPrk(prk: unknown): void {
  assertBytes(prk, "HKDF PRK", undefined, "bad_key");
  // RFC 5869 asks for at least HashLen bytes; noble enforces it, so both do.
  if (prk.length < 32) throw new CryptoError("bad_key", "HKDF PRK must be at least 32 bytes");
}
