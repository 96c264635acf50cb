/** `id`, `corrId`, `cid`, `refId`, `kid`, `instanceId`: url-safe, bounded. */
export const ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;
/** `systemId` also names path segments, so it takes the narrower segment alphabet. */
export const SYSTEM_ID_PATTERN = /^[A-Za-z0-9_]{1,64}$/;
/** `sid` is base62 (see sid.ts); no separator byte can occur in it, which signing relies on. */
export const SID_PATTERN = /^[A-Za-z0-9]{1,64}$/;
/**
 * A node's self-declared name (NodeAttach.name: FAME_REPLICA_NAME / FAME_NODE_NAME), shown in
 * the sentinel's status. Not an identity: nothing vouches for it.
 */
export const NODE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** Keys of `meta` and `stickiness`, and capability names. */
export const TOKEN_PATTERN = /^[A-Za-z0-9_.:/-]{1,64}$/;

export function isId(value: unknown): value is string {
  return typeof value === "string" && ID_PATTERN.test(value);
}

export function isSystemId(value: unknown): value is string {
  return typeof value === "string" && SYSTEM_ID_PATTERN.test(value);
}

export function isSid(value: unknown): value is string {
  return typeof value === "string" && SID_PATTERN.test(value);
}

/**
 * CSPRNG bytes for ids, drawn 4 KiB at a time: every envelope needs an id, and one
 * getRandomValues call per id was ~5% of a busy node's CPU. Each byte is used once.
 */
const idPool = new Uint8Array(4096);
let idPoolAt = idPool.length;

/** base64url's alphabet as char codes */
const URL_CODES = Array.from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", (c) =>
  c.charCodeAt(0),
);

/**
 * 22 url-safe characters carrying 128 random bits: collision-free in practice, valid as any id.
 * The base64url text of 16 pool bytes, made in one String.fromCharCode: a call's id is made for
 * every call and then hashed at every hop, and a string built by concatenation (a rope) cost
 * four times as much to make and had to be flattened before its first lookup.
 */
export function newId(): string {
  if (idPoolAt + 16 > idPool.length) {
    globalThis.crypto.getRandomValues(idPool);
    idPoolAt = 0;
  }
  const b = idPool;
  const i = idPoolAt;
  idPoolAt += 16;
  const c = URL_CODES;
  const n0 = (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!;
  const n1 = (b[i + 3]! << 16) | (b[i + 4]! << 8) | b[i + 5]!;
  const n2 = (b[i + 6]! << 16) | (b[i + 7]! << 8) | b[i + 8]!;
  const n3 = (b[i + 9]! << 16) | (b[i + 10]! << 8) | b[i + 11]!;
  const n4 = (b[i + 12]! << 16) | (b[i + 13]! << 8) | b[i + 14]!;
  const n5 = b[i + 15]! << 16;
  return String.fromCharCode(
    c[n0 >>> 18]!,
    c[(n0 >>> 12) & 63]!,
    c[(n0 >>> 6) & 63]!,
    c[n0 & 63]!,
    c[n1 >>> 18]!,
    c[(n1 >>> 12) & 63]!,
    c[(n1 >>> 6) & 63]!,
    c[n1 & 63]!,
    c[n2 >>> 18]!,
    c[(n2 >>> 12) & 63]!,
    c[(n2 >>> 6) & 63]!,
    c[n2 & 63]!,
    c[n3 >>> 18]!,
    c[(n3 >>> 12) & 63]!,
    c[(n3 >>> 6) & 63]!,
    c[n3 & 63]!,
    c[n4 >>> 18]!,
    c[(n4 >>> 12) & 63]!,
    c[(n4 >>> 6) & 63]!,
    c[n4 & 63]!,
    c[n5 >>> 18]!,
    c[(n5 >>> 12) & 63]!,
  );
}
