export type BackendName = "native" | "noble";

/** Lengths fixed by the algorithms; exported so callers validate before calling. */
export const ED25519_SEED_LENGTH = 32;
export const ED25519_PUBLIC_KEY_LENGTH = 32;
export const ED25519_SIGNATURE_LENGTH = 64;
export const X25519_KEY_LENGTH = 32;
export const AEAD_KEY_LENGTH = 32;
export const AEAD_NONCE_LENGTH = 12;
export const AEAD_TAG_LENGTH = 16;
export const SHA256_LENGTH = 32;
/** RFC 5869: L <= 255 * HashLen. */
export const HKDF_SHA256_MAX_LENGTH = 255 * SHA256_LENGTH;

/**
 * Imported Ed25519 signing key. Opaque: each back end keeps its own prepared
 * form (a cached KeyObject for native) and only accepts handles it created.
 */
export interface Ed25519SigningKey {
  readonly backend: BackendName;
  readonly publicKey: Uint8Array;
}

/** Imported Ed25519 public key, prepared for repeated verification. */
export interface Ed25519VerifyKey {
  readonly backend: BackendName;
  readonly publicKey: Uint8Array;
}

export interface Ed25519KeyPair {
  /** 32-byte RFC 8032 secret seed. */
  readonly seed: Uint8Array;
  readonly publicKey: Uint8Array;
}

export interface X25519KeyPair {
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

/**
 * The primitives FAME needs, behind one interface so the record layer and
 * identity code do not care which implementation runs. Both back ends must
 * produce byte-identical outputs for identical inputs (tests enforce it).
 */
export interface CryptoBackend {
  readonly name: BackendName;

  randomBytes(length: number): Uint8Array;

  ed25519Keygen(): Ed25519KeyPair;
  /** Throws `bad_key` unless `seed` is 32 bytes. */
  ed25519ImportSigningKey(seed: Uint8Array): Ed25519SigningKey;
  /** Throws `bad_key` unless `publicKey` is 32 bytes; invalid points only make verify return false. */
  ed25519ImportVerifyKey(publicKey: Uint8Array): Ed25519VerifyKey;
  ed25519Sign(key: Ed25519SigningKey, message: Uint8Array): Uint8Array;
  /** Never throws for malformed signatures or keys: it answers false. */
  ed25519Verify(key: Ed25519VerifyKey, message: Uint8Array, signature: Uint8Array): boolean;

  x25519Keygen(): X25519KeyPair;
  x25519PublicKey(secretKey: Uint8Array): Uint8Array;
  /** Throws `weak_shared_secret` when the peer key is low order (all-zero result). */
  x25519SharedSecret(secretKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array;

  sha256(data: Uint8Array): Uint8Array;
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
  /** RFC 5869 extract; an empty salt means HashLen zero bytes. */
  hkdfExtract(salt: Uint8Array, ikm: Uint8Array): Uint8Array;
  hkdfExpand(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array;
  /** Extract then expand. */
  hkdf(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array;

  /** RFC 8439 ChaCha20-Poly1305; returns ciphertext followed by the 16-byte tag. */
  aeadSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array;
  /** Throws `decrypt_failed` when the tag does not verify. */
  aeadOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array;
}
