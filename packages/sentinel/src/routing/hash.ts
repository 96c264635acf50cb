/**
 * Small non-cryptographic hashes for rendezvous (HRW) hashing. Keys come from clients, but
 * HRW only needs a stable spread, not collision resistance: a client that games the hash
 * can at worst choose its own replica, which it could also do by retrying.
 */

const FNV_OFFSET_32 = 0x811c9dc5;
const FNV_PRIME_32 = 0x01000193;

/** FNV-1a over UTF-16 code units; cheap and stable across processes and restarts. */
export function fnv1a32(s: string): number {
  let h = FNV_OFFSET_32;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME_32);
  }
  return h >>> 0;
}

/** MurmurHash3's finaliser: full avalanche, so nearby inputs give unrelated outputs. */
export function fmix32(x: number): number {
  let h = x | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The per-member half of an HRW score; pools compute it once per member, not per pick. */
export function memberHash(id: string): number {
  // Offsetting by the golden-ratio constant keeps a zero FNV value from passing the key through.
  return fmix32((fnv1a32(id) + 0x9e3779b9) | 0);
}

/** The per-key half of an HRW score. */
export function keyHash(key: string): number {
  return fnv1a32(key);
}

/** Rendezvous score of one (key, member) pair; the member with the highest score wins. */
export function hrwScore(kHash: number, mHash: number): number {
  return fmix32(kHash ^ mHash);
}
