import { base64urlEncode } from "./base64.js";

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

/** 22 url-safe characters carrying 128 random bits: collision-free in practice, valid as any id. */
export function newId(): string {
  if (idPoolAt + 16 > idPool.length) {
    globalThis.crypto.getRandomValues(idPool);
    idPoolAt = 0;
  }
  const id = base64urlEncode(idPool.subarray(idPoolAt, idPoolAt + 16));
  idPoolAt += 16;
  return id;
}
