import { joseKeyFromPublic } from "@fame/identity";
import type { CryptoKey } from "jose";

const ED25519_KEY_BYTES = 32;

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
      entry = { raw: Uint8Array.from(raw), key: joseKeyFromPublic(raw) };
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
