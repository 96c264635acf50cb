import { createPrivateKey, createPublicKey } from "node:crypto";
import { type CryptoKey, importJWK } from "jose";

/** DER prefix of a PKCS#8 Ed25519 private key; the 32-byte seed follows it (RFC 8410). */
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const ED25519_KEY_BYTES = 32;

function checkLength(bytes: Uint8Array, what: string): void {
  if (bytes.length !== ED25519_KEY_BYTES) throw new RangeError(`${what} must be ${ED25519_KEY_BYTES} bytes`);
}

/** The base64url public key (`x`) of a seed; node:crypto derives it without extra deps. */
function publicX(seed: Uint8Array): string {
  checkLength(seed, "Ed25519 seed");
  const der = Buffer.concat([PKCS8_ED25519_PREFIX, seed]);
  const jwk = createPublicKey(createPrivateKey({ key: der, format: "der", type: "pkcs8" })).export({
    format: "jwk",
  });
  if (typeof jwk.x !== "string") throw new Error("could not derive the Ed25519 public key");
  return jwk.x;
}

/** Import a raw Ed25519 seed as a jose signing key (a JWK needs both `d` and the public `x`). */
export async function joseKeyFromSeed(seed: Uint8Array): Promise<CryptoKey> {
  const x = publicX(seed);
  const d = Buffer.from(seed).toString("base64url");
  return (await importJWK({ kty: "OKP", crv: "Ed25519", d, x }, "EdDSA")) as CryptoKey;
}

/** The raw 32-byte public key of a seed; the replica advertises this in its certificate. */
export function ed25519PublicKeyOf(seed: Uint8Array): Uint8Array {
  return new Uint8Array(Buffer.from(publicX(seed), "base64url"));
}

/** Import a raw 32-byte Ed25519 public key as a jose verification key. */
export async function joseKeyFromPublic(raw: Uint8Array): Promise<CryptoKey> {
  checkLength(raw, "Ed25519 public key");
  const x = Buffer.from(raw).toString("base64url");
  return (await importJWK({ kty: "OKP", crv: "Ed25519", x }, "EdDSA")) as CryptoKey;
}
