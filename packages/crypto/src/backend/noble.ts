import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import { expand, extract, hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { randomBytes as nobleRandomBytes } from "@noble/hashes/utils.js";
import { assertBytes, isAllZero } from "../bytes.js";
import { CryptoError } from "../errors.js";
import {
  checkAeadArgs,
  checkHkdfLength,
  checkPrk,
  checkRandomLength,
  checkSealedLength,
  checkX25519Args,
  weakSharedSecret,
} from "./checks.js";
import {
  type CryptoBackend,
  ED25519_PUBLIC_KEY_LENGTH,
  ED25519_SEED_LENGTH,
  ED25519_SIGNATURE_LENGTH,
  type Ed25519KeyPair,
  type Ed25519SigningKey,
  type Ed25519VerifyKey,
  type X25519KeyPair,
} from "./types.js";

// Pure JavaScript back end: no node: imports, so it also runs in browsers and
// serves as the independent reference the native back end is tested against.

/** Web Crypto's getRandomValues quota, which noble's randomBytes enforces. */
const RANDOM_CHUNK = 65536;

/** Strict RFC 8032 / FIPS 186-5 verification: canonical encodings, small-order keys rejected. */
const STRICT = { zip215: false } as const;

class NobleSigningKey implements Ed25519SigningKey {
  readonly backend = "noble";
  readonly publicKey: Uint8Array;
  readonly seed: Uint8Array;

  constructor(seed: Uint8Array) {
    this.seed = seed.slice();
    this.publicKey = ed25519.getPublicKey(this.seed);
  }
}

class NobleVerifyKey implements Ed25519VerifyKey {
  readonly backend = "noble";
  readonly publicKey: Uint8Array;

  constructor(publicKey: Uint8Array) {
    this.publicKey = publicKey.slice();
  }
}

function asNobleSigningKey(key: Ed25519SigningKey): NobleSigningKey {
  if (key instanceof NobleSigningKey) return key;
  throw new CryptoError("bad_key", "signing key was not imported by the noble back end");
}

function asNobleVerifyKey(key: Ed25519VerifyKey): NobleVerifyKey {
  if (key instanceof NobleVerifyKey) return key;
  throw new CryptoError("bad_key", "verify key was not imported by the noble back end");
}

export function createNobleBackend(): CryptoBackend {
  const backend: CryptoBackend = {
    name: "noble",

    randomBytes(length: number): Uint8Array {
      checkRandomLength(length);
      if (length <= RANDOM_CHUNK) return nobleRandomBytes(length);
      const out = new Uint8Array(length);
      for (let offset = 0; offset < length; offset += RANDOM_CHUNK) {
        out.set(nobleRandomBytes(Math.min(RANDOM_CHUNK, length - offset)), offset);
      }
      return out;
    },

    ed25519Keygen(): Ed25519KeyPair {
      const seed = backend.randomBytes(ED25519_SEED_LENGTH);
      return { seed, publicKey: ed25519.getPublicKey(seed) };
    },

    ed25519ImportSigningKey(seed: Uint8Array): Ed25519SigningKey {
      assertBytes(seed, "Ed25519 seed", ED25519_SEED_LENGTH, "bad_key");
      return new NobleSigningKey(seed);
    },

    ed25519ImportVerifyKey(publicKey: Uint8Array): Ed25519VerifyKey {
      assertBytes(publicKey, "Ed25519 public key", ED25519_PUBLIC_KEY_LENGTH, "bad_key");
      return new NobleVerifyKey(publicKey);
    },

    ed25519Sign(key: Ed25519SigningKey, message: Uint8Array): Uint8Array {
      assertBytes(message, "message");
      return ed25519.sign(message, asNobleSigningKey(key).seed);
    },

    ed25519Verify(key: Ed25519VerifyKey, message: Uint8Array, signature: Uint8Array): boolean {
      const { publicKey } = asNobleVerifyKey(key);
      if (!(message instanceof Uint8Array) || !(signature instanceof Uint8Array)) return false;
      if (signature.length !== ED25519_SIGNATURE_LENGTH) return false;
      try {
        return ed25519.verify(signature, message, publicKey, STRICT);
      } catch {
        return false;
      }
    },

    x25519Keygen(): X25519KeyPair {
      const secretKey = backend.randomBytes(32);
      return { secretKey, publicKey: x25519.getPublicKey(secretKey) };
    },

    x25519PublicKey(secretKey: Uint8Array): Uint8Array {
      checkX25519Args(secretKey);
      return x25519.getPublicKey(secretKey);
    },

    x25519SharedSecret(secretKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array {
      checkX25519Args(secretKey, peerPublicKey);
      let shared: Uint8Array;
      try {
        shared = x25519.getSharedSecret(secretKey, peerPublicKey);
      } catch (error) {
        // noble rejects low-order u coordinates before running the ladder; lengths
        // were checked above, so that is the only way to get here.
        throw weakSharedSecret(error);
      }
      if (isAllZero(shared)) throw weakSharedSecret();
      return shared;
    },

    sha256(data: Uint8Array): Uint8Array {
      assertBytes(data, "data");
      return sha256(data);
    },

    hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
      assertBytes(key, "HMAC key", undefined, "bad_key");
      assertBytes(data, "data");
      return hmac(sha256, key, data);
    },

    hkdfExtract(salt: Uint8Array, ikm: Uint8Array): Uint8Array {
      assertBytes(salt, "HKDF salt");
      assertBytes(ikm, "HKDF ikm", undefined, "bad_key");
      return extract(sha256, ikm, salt);
    },

    hkdfExpand(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
      checkPrk(prk);
      assertBytes(info, "HKDF info");
      checkHkdfLength(length);
      return expand(sha256, prk, info, length);
    },

    hkdf(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
      assertBytes(ikm, "HKDF ikm", undefined, "bad_key");
      assertBytes(salt, "HKDF salt");
      assertBytes(info, "HKDF info");
      checkHkdfLength(length);
      return hkdf(sha256, ikm, salt, info, length);
    },

    aeadSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
      checkAeadArgs(key, nonce, plaintext, aad);
      return chacha20poly1305(key, nonce, aad).encrypt(plaintext);
    },

    aeadOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array {
      checkAeadArgs(key, nonce, sealed, aad);
      checkSealedLength(sealed);
      try {
        return chacha20poly1305(key, nonce, aad).decrypt(sealed);
      } catch (error) {
        throw new CryptoError("decrypt_failed", "AEAD authentication failed", { cause: error });
      }
    },
  };
  return backend;
}
