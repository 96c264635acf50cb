import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CryptoError, getBackend } from "../src/index.js";

// The two back ends must be interchangeable: identical inputs give identical
// bytes, and anything one signs the other verifies.

const native = getBackend("native");
const noble = getBackend("noble");

const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const message = fc.uint8Array({ minLength: 0, maxLength: 300 });
const RUNS = { numRuns: 200 };

/** Result or error code, so "both throw the same way" also counts as agreement. */
function outcome(run: () => Uint8Array): string {
  try {
    return Buffer.from(run()).toString("hex");
  } catch (error) {
    return error instanceof CryptoError ? `error:${error.code}` : `untyped:${String(error)}`;
  }
}

describe("native and noble back ends agree", () => {
  it("Ed25519: same public key and signature; each verifies the other's", () => {
    fc.assert(
      fc.property(bytes32, message, (seed, msg) => {
        const a = native.ed25519ImportSigningKey(seed);
        const b = noble.ed25519ImportSigningKey(seed);
        expect(a.publicKey).toEqual(b.publicKey);
        const sigA = native.ed25519Sign(a, msg);
        const sigB = noble.ed25519Sign(b, msg);
        expect(sigA).toEqual(sigB);
        expect(noble.ed25519Verify(noble.ed25519ImportVerifyKey(a.publicKey), msg, sigA)).toBe(true);
        expect(native.ed25519Verify(native.ed25519ImportVerifyKey(b.publicKey), msg, sigB)).toBe(true);
      }),
      RUNS,
    );
  });

  it("Ed25519: same verdict on corrupted signatures, messages and arbitrary keys", () => {
    fc.assert(
      fc.property(
        bytes32,
        message,
        fc.nat(63),
        fc.integer({ min: 1, max: 255 }),
        bytes32,
        (seed, msg, index, mask, junkKey) => {
          const signer = native.ed25519ImportSigningKey(seed);
          const sig = native.ed25519Sign(signer, msg);
          sig[index] = sig[index]! ^ mask;
          const verdict = (pub: Uint8Array, m: Uint8Array, s: Uint8Array) => {
            const n = native.ed25519Verify(native.ed25519ImportVerifyKey(pub), m, s);
            const j = noble.ed25519Verify(noble.ed25519ImportVerifyKey(pub), m, s);
            expect(n).toBe(j);
            return n;
          };
          expect(verdict(signer.publicKey, msg, sig)).toBe(false);
          verdict(junkKey, msg, sig);
        },
      ),
      RUNS,
    );
  });

  it("X25519: same public keys and shared secrets, symmetric", () => {
    fc.assert(
      fc.property(bytes32, bytes32, (a, b) => {
        const pubA = native.x25519PublicKey(a);
        expect(pubA).toEqual(noble.x25519PublicKey(a));
        const pubB = noble.x25519PublicKey(b);
        const shared = native.x25519SharedSecret(a, pubB);
        expect(noble.x25519SharedSecret(a, pubB)).toEqual(shared);
        expect(noble.x25519SharedSecret(b, pubA)).toEqual(shared);
      }),
      { numRuns: 300 },
    );
  });

  it("X25519: same outcome for arbitrary peer u-coordinates", () => {
    fc.assert(
      fc.property(bytes32, bytes32, (secret, u) => {
        expect(outcome(() => native.x25519SharedSecret(secret, u))).toBe(
          outcome(() => noble.x25519SharedSecret(secret, u)),
        );
      }),
      { numRuns: 300 },
    );
  });

  it("HKDF-SHA256: extract, expand and the combined call match", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 100 }),
        fc.uint8Array({ maxLength: 100 }),
        fc.uint8Array({ maxLength: 1100 }),
        fc.integer({ min: 1, max: 300 }),
        (ikm, salt, info, length) => {
          const prk = native.hkdfExtract(salt, ikm);
          expect(noble.hkdfExtract(salt, ikm)).toEqual(prk);
          expect(noble.hkdfExpand(prk, info, length)).toEqual(native.hkdfExpand(prk, info, length));
          expect(noble.hkdf(ikm, salt, info, length)).toEqual(native.hkdf(ikm, salt, info, length));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("HMAC-SHA256 and SHA-256 match", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), message, (key, data) => {
        expect(noble.hmacSha256(key, data)).toEqual(native.hmacSha256(key, data));
        expect(noble.sha256(data)).toEqual(native.sha256(data));
      }),
      { numRuns: 300 },
    );
  });

  it("ChaCha20-Poly1305: same sealed bytes; each opens the other's", () => {
    fc.assert(
      fc.property(
        bytes32,
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        fc.uint8Array({ maxLength: 600 }),
        fc.uint8Array({ maxLength: 64 }),
        (key, nonce, plaintext, aad) => {
          const sealed = native.aeadSeal(key, nonce, plaintext, aad);
          expect(noble.aeadSeal(key, nonce, plaintext, aad)).toEqual(sealed);
          expect(noble.aeadOpen(key, nonce, sealed, aad)).toEqual(plaintext);
          expect(native.aeadOpen(key, nonce, sealed, aad)).toEqual(plaintext);
        },
      ),
      { numRuns: 300 },
    );
  });
});
