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
export async function importEd25519Seed(seed: Uint8Array): Promise<CryptoKey> {
  const x = publicX(seed);
  const d = Buffer.from(seed).toString("base64url");
  return (await importJWK({ kty: "OKP", crv: "Ed25519", d, x }, "EdDSA")) as CryptoKey;
}

/** The raw 32-byte public key of a seed; the replica advertises this in its certificate. */
export function ed25519PublicKeyOf(seed: Uint8Array): Uint8Array {
  return new Uint8Array(Buffer.from(publicX(seed), "base64url"));
}

/** Import a raw 32-byte Ed25519 public key as a jose verification key. */
export async function importEd25519Public(raw: Uint8Array): Promise<CryptoKey> {
  checkLength(raw, "Ed25519 public key");
  const x = Buffer.from(raw).toString("base64url");
  return (await importJWK({ kty: "OKP", crv: "Ed25519", x }, "EdDSA")) as CryptoKey;
}

interface CachedKey {
  raw: Uint8Array;
  key: Promise<CryptoKey>;
}

export const DEFAULT_KEY_CACHE_SIZE = 4096;

/**
 * Imported verification keys per replica. Importing costs far more than verifying, so it is
 * done once per replica; the raw key is compared on every use so a replica that re-attaches
 * with a new certificate is never verified against its old key. Bounded LRU.
 */
export class ReplicaKeyCache {
  private readonly keys = new Map<string, CachedKey>();

  constructor(
    private readonly replicaKeyOf: (replicaId: string) => Uint8Array | undefined,
    private readonly maxSize = DEFAULT_KEY_CACHE_SIZE,
  ) {}

  get size(): number {
    return this.keys.size;
  }

  /** The replica's current key, or undefined if it has none (detached) or it does not import. */
  async get(replicaId: string): Promise<CryptoKey | undefined> {
    const raw = this.replicaKeyOf(replicaId);
    if (raw === undefined || raw.length !== ED25519_KEY_BYTES) {
      this.keys.delete(replicaId);
      return undefined;
    }
    let entry = this.keys.get(replicaId);
    if (entry !== undefined && sameBytes(entry.raw, raw)) {
      // Refresh LRU position.
      this.keys.delete(replicaId);
      this.keys.set(replicaId, entry);
    } else {
      entry = { raw: Uint8Array.from(raw), key: importEd25519Public(raw) };
      this.keys.delete(replicaId);
      this.keys.set(replicaId, entry);
      if (this.keys.size > this.maxSize) {
        const oldest = this.keys.keys().next().value;
        if (oldest !== undefined) this.keys.delete(oldest);
      }
    }
    try {
      return await entry.key;
    } catch {
      if (this.keys.get(replicaId) === entry) this.keys.delete(replicaId);
      return undefined;
    }
  }

  drop(replicaId: string): void {
    this.keys.delete(replicaId);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
