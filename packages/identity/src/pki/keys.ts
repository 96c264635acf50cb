import { createPrivateKey } from "node:crypto";
import { PkiConfigError } from "./errors.js";
import type { Algorithm, CryptoKey, CryptoKeyPair, EcdsaParams } from "./webcrypto-types.js";

const subtle = globalThis.crypto.subtle;

/** PKCS#8 PrivateKeyInfo header for Ed25519 (RFC 8410); the 32-byte seed follows it. */
const ED25519_PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);
/** SubjectPublicKeyInfo header for Ed25519; the 32-byte public key follows it. */
const ED25519_SPKI_PREFIX = Uint8Array.from([
  0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
]);

function startsWith(buf: Uint8Array, prefix: Uint8Array): boolean {
  if (buf.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (buf[i] !== prefix[i]) return false;
  return true;
}

/** Wrap a raw 32-byte Ed25519 seed as PKCS#8 DER, the only private format WebCrypto imports. */
export function ed25519Pkcs8FromSeed(seed: Uint8Array): Uint8Array<ArrayBuffer> {
  if (seed.length !== 32) throw new TypeError("Ed25519 seed must be 32 bytes");
  const out = new Uint8Array(ED25519_PKCS8_PREFIX.length + 32);
  out.set(ED25519_PKCS8_PREFIX);
  out.set(seed, ED25519_PKCS8_PREFIX.length);
  return out;
}

/** Raw 32-byte public key of an Ed25519 SubjectPublicKeyInfo, or null when it is not one. */
export function ed25519RawFromSpki(spki: Uint8Array): Uint8Array | null {
  if (spki.length !== ED25519_SPKI_PREFIX.length + 32 || !startsWith(spki, ED25519_SPKI_PREFIX)) return null;
  return spki.slice(ED25519_SPKI_PREFIX.length);
}

/** Ed25519 signing CryptoKey from a raw seed. */
export function importEd25519Seed(seed: Uint8Array, extractable = false): Promise<CryptoKey> {
  return subtle.importKey("pkcs8", ed25519Pkcs8FromSeed(seed), { name: "Ed25519" }, extractable, ["sign"]);
}

export interface Ed25519KeyMaterial {
  /** 32-byte private seed (RFC 8032), usable directly by node:crypto or any Ed25519 library. */
  seed: Uint8Array;
  /** 32-byte raw public key. */
  publicKey: Uint8Array;
  keys: CryptoKeyPair;
}

/** Fresh Ed25519 key pair, exposed both as raw bytes and as WebCrypto keys. */
export async function generateEd25519(): Promise<Ed25519KeyMaterial> {
  const keys = (await subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(await subtle.exportKey("pkcs8", keys.privateKey));
  if (pkcs8.length !== ED25519_PKCS8_PREFIX.length + 32 || !startsWith(pkcs8, ED25519_PKCS8_PREFIX)) {
    throw new Error("unexpected Ed25519 PKCS#8 encoding from WebCrypto");
  }
  const seed = pkcs8.slice(ED25519_PKCS8_PREFIX.length);
  pkcs8.fill(0);
  const publicKey = new Uint8Array(await subtle.exportKey("raw", keys.publicKey));
  return { seed, publicKey, keys };
}

/** The x509 signing algorithm that matches a private key (Ed25519 or ECDSA P-256 only). */
export function signingAlgorithmFor(key: CryptoKey): Algorithm | EcdsaParams {
  if (key.algorithm.name === "Ed25519") return { name: "Ed25519" };
  if (key.algorithm.name === "ECDSA") return { name: "ECDSA", hash: "SHA-256" };
  throw new PkiConfigError(`unsupported issuer key algorithm ${key.algorithm.name}`);
}

/** PKCS#8 PEM of an extractable private key. */
export async function exportPrivateKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await subtle.exportKey("pkcs8", key));
  const b64 = der.toString("base64").replace(/.{1,64}/g, "$&\n");
  der.fill(0);
  return `-----BEGIN PRIVATE KEY-----\n${b64}-----END PRIVATE KEY-----\n`;
}

/**
 * Import a PEM private key (PKCS#8, or SEC1 for EC) as a non-extractable signing CryptoKey.
 * node:crypto sniffs the algorithm so callers need not know what the file holds.
 */
export async function importPrivateKeyPem(pem: string): Promise<CryptoKey> {
  let keyObject: ReturnType<typeof createPrivateKey>;
  try {
    keyObject = createPrivateKey({ key: pem, format: "pem" });
  } catch {
    throw new PkiConfigError("private key PEM cannot be parsed");
  }
  const der = keyObject.export({ format: "der", type: "pkcs8" });
  try {
    if (keyObject.asymmetricKeyType === "ed25519") {
      return await subtle.importKey("pkcs8", der, { name: "Ed25519" }, false, ["sign"]);
    }
    if (keyObject.asymmetricKeyType === "ec" && keyObject.asymmetricKeyDetails?.namedCurve === "prime256v1") {
      return await subtle.importKey("pkcs8", der, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
    }
  } finally {
    der.fill(0);
  }
  throw new PkiConfigError(`unsupported private key type ${keyObject.asymmetricKeyType ?? "unknown"}`);
}
