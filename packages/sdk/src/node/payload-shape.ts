/** What the fabric node needs to know of an RPC payload or envelope meta, read without copying. */
import { CLEAR_BATCH_META, type Envelope, type MetaValue, MORE_META, tryParseAddress } from "@fame/protocol";
import type { JsonValue } from "../rpc/transport.js";

export function isStreamItem(payload: JsonValue): boolean {
  return (
    typeof payload === "object" && payload !== null && !Array.isArray(payload) && payload["stream"] === "item"
  );
}

/** a callee's last word in a conversation: a result, an error, or a stream's end */
export function isFinalReply(payload: JsonValue): boolean {
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) return false;
  return (
    payload["stream"] === "end" ||
    (payload["stream"] === undefined && ("result" in payload || "error" in payload))
  );
}

/** a node talks to few addresses, parsed once each (bounded: addresses may come from callers) */
const kindCache = new Map<string, AddressKind>();
const MAX_CACHED_ADDRESSES = 1024;

/** what the protocol's address parser makes of an address: `invalid` never leaves the node */
export type AddressKind = "logical" | "physical" | "invalid";

export function addressKind(address: string): AddressKind {
  let kind = kindCache.get(address);
  if (kind === undefined) {
    const parsed = tryParseAddress(address);
    kind = parsed === undefined ? "invalid" : "logical" in parsed ? "logical" : "physical";
    if (kindCache.size >= MAX_CACHED_ADDRESSES) kindCache.clear();
    kindCache.set(address, kind);
  }
  return kind;
}

export function isLogical(address: string): boolean {
  return addressKind(address) === "logical";
}

/** no meta of its own: such a message can share a record with others */
export function coalescable(meta: Record<string, string> | undefined): boolean {
  if (meta === undefined) return true;
  for (const _ in meta) return false;
  return true;
}

/** the meta of a stream item sent alone: one shared object */
export const MORE: Readonly<Record<string, MetaValue>> = Object.freeze({ [MORE_META]: true });

/** `meta` as a message sent alone carries it: with the stream-item flag when more follow */
export function withMore<M extends Readonly<Record<string, MetaValue>>>(
  meta: M | undefined,
  more: boolean,
): Readonly<Record<string, MetaValue>> | undefined {
  if (!more) return meta;
  return meta === undefined ? MORE : { ...meta, [MORE_META]: true };
}

/** no meta, or only the clear-batch offer and the stream-item flag (the SDK's own clear shapes) */
export function isOnlyOffer(meta: Envelope["meta"]): boolean {
  if (meta === undefined) return true;
  for (const key in meta) {
    if (key === CLEAR_BATCH_META) {
      if (meta[key] !== true) return false;
    } else if (key !== MORE_META || meta[key] !== true) return false;
  }
  return true;
}

/** no meta, or only the stream-item flag */
export function isOnlyMore(meta: Envelope["meta"]): boolean {
  if (meta === undefined) return true;
  let n = 0;
  for (const key in meta) {
    if (key !== MORE_META || meta[key] !== true || ++n > 1) return false;
  }
  return n === 1;
}

/** envelope meta as the RPC layer takes it: every value a string */
export function stringMeta(meta: Envelope["meta"]): Record<string, string> | undefined {
  if (!meta) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta)) out[k] = String(v);
  return out;
}
