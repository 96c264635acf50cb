/**
 * The binary wire form of sealed channel Data: one binary WebSocket message =
 *   0x01 ‖ u32 big-endian H ‖ H bytes of header ‖ the raw ciphertext (with its 16-byte tag)
 * where the header is the UTF-8 JSON of the envelope without `frame.ct`. The ciphertext skips
 * base64 (a third larger) and the JSON escaping, scanning and copying of a large string at
 * every hop; the sentinel routes on the header alone and forwards the bytes as received.
 * The AEAD binds exactly what it binds in the JSON form (aeadAad: the immutable headers and a
 * batch list), so a record opens the same whichever form carried it.
 * Sent only between peers that announced BINARY_RECORDS_CAPABILITY at attach.
 *
 * A coalesced record (a batch of messages) has a second form, for peers that also announced
 * BINARY_BATCH_CAPABILITY:
 *   0x02 ‖ u32 H ‖ H bytes of header (without frame.batch) ‖ u16 N ‖ N bytes, one per entry:
 *   (id length - 1) | 0x80 when `more` ‖ the N ids, ASCII, back to back ‖ the raw ciphertext
 * A busy channel's every record carries a list of up to 32 ids, read at each hop: as JSON it
 * was most of the cost of decoding a record (parse, then an object and a check per entry);
 * as bytes it is checked against the id alphabet with a table and read in one decode.
 */
import { scratchBytes, utf8Bytes } from "@fame/crypto";
import { base64urlEncode } from "./base64.js";
import { encodeSealedEnvelope } from "./codec.js";
import type { Envelope } from "./envelope.js";
import { type BatchEntry, type DataEnc, type Frame, MAX_BATCH_ENTRIES } from "./frames.js";
import { nestingExceeds } from "./json-depth.js";
import { type Limits, resolveLimits } from "./limits.js";
import { ProtocolError } from "./protocol-error.js";
import { checkEnvelope, newCtx, validateEnvelope } from "./validate.js";

/** announced in NodeAttach.capabilities and echoed in NodeAttachAck.capabilities */
export const BINARY_RECORDS_CAPABILITY = "binary-records";
/** announced beside BINARY_RECORDS_CAPABILITY: the node also takes batch lists as bytes (tag 0x02) */
export const BINARY_BATCH_CAPABILITY = "binary-batch";
/** first byte of a binary sealed record */
export const BINARY_RECORD_TAG = 0x01;
/** first byte of a binary sealed record whose batch list travels as bytes after the header */
export const BINARY_BATCH_RECORD_TAG = 0x02;
/** tag and header length */
export const BINARY_PREFIX_BYTES = 5;
/** a header is an envelope without its payload: ids, addresses, meta, a batch list, an AFT */
export const MAX_BINARY_HEADER_BYTES = 32 * 1024;
const MIN_CT_BYTES = 16;
/** 16 zero bytes in base64url: stands in for the ciphertext while the rest is validated */
const CT_STAND_IN = "AAAAAAAAAAAAAAAAAAAAAA";

const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** the bytes of ID_PATTERN's alphabet, [A-Za-z0-9_.:-], marked 1 */
const ID_BYTE = (() => {
  const table = new Uint8Array(256);
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-";
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = 1;
  return table;
})();
/** longest id (ID_PATTERN) */
const MAX_ID_LENGTH = 128;
/** in a list's length byte: the entry is a stream item, more follow (BatchEntry.more) */
const MORE_BIT = 0x80;

/**
 * A frame's ciphertext held as bytes (its `ct` is then ""): set by the sealer and by
 * decodeBinaryRecord, read by whoever opens or re-encodes the record. A symbol-keyed member
 * rather than a WeakMap entry: every record of a busy channel gets one at each hop, and a
 * WeakMap insert (an ephemeron the garbage collector must trace) cost more than the member.
 * JSON.stringify and the validators' key checks do not see symbol keys.
 */
const CT_BYTES: unique symbol = Symbol("fame.recordBytes");
type WithBytes = { [CT_BYTES]?: Uint8Array };

/** Makes `frame` carry its ciphertext as bytes: `ct` becomes "" (see recordBytes). */
export function setRecordBytes(frame: DataEnc, ct: Uint8Array): void {
  frame.ct = "";
  (frame as WithBytes)[CT_BYTES] = ct;
}

/** The ciphertext of a frame that carries it as bytes, else undefined (ct is base64url text). */
export function recordBytes(frame: Frame): Uint8Array | undefined {
  return frame.type === "Data" && frame.codec === "enc" && frame.ct === ""
    ? (frame as WithBytes)[CT_BYTES]
    : undefined;
}

/** A sealed Data envelope whose ciphertext is held as bytes (decoded from or bound for the binary form). */
export function isBinaryRecord(env: Envelope): boolean {
  const f = env.frame;
  return f.type === "Data" && f.codec === "enc" && f.ct === "";
}

function bad(field: string, message: string): ProtocolError {
  return new ProtocolError("bad_envelope", field, message);
}

function tooLarge(max: number): ProtocolError {
  return new ProtocolError(
    "frame_too_large",
    "",
    `frame larger than ${max} bytes (FAME_MAX_FRAME_BYTES on both ends)`,
  );
}

/**
 * Decode one binary message (either form). Same guarantees as decodeEnvelope, cheapest check
 * first: size before anything, prefix and header bounds, a batch list's bounds and alphabet,
 * then UTF-8, nesting, JSON.parse and the full envelope validation of the header. Only sealed
 * Data travels this way, unsigned (its AEAD authenticates it). Throws only ProtocolError.
 */
export function decodeBinaryRecord(input: Uint8Array, limits?: Partial<Limits>): Envelope {
  const lim = resolveLimits(limits);
  const n = input.byteLength;
  if (n > lim.maxFrameBytes) throw tooLarge(lim.maxFrameBytes);
  if (n < BINARY_PREFIX_BYTES) throw bad("", "binary frame shorter than its prefix");
  const tag = input[0];
  if (tag !== BINARY_RECORD_TAG && tag !== BINARY_BATCH_RECORD_TAG)
    throw bad("", "unknown binary frame form");
  const headerBytes = ((input[1]! << 24) >>> 0) + ((input[2]! << 16) | (input[3]! << 8) | input[4]!);
  if (headerBytes > MAX_BINARY_HEADER_BYTES)
    throw bad("header", `binary header larger than ${MAX_BINARY_HEADER_BYTES} bytes`);
  const headerEnd = BINARY_PREFIX_BYTES + headerBytes;
  if (headerEnd > n) throw bad("header", "header length beyond the frame");
  let batch: BatchEntry[] | undefined;
  let ctStart = headerEnd;
  if (tag === BINARY_BATCH_RECORD_TAG) {
    const list = readBatchList(input, headerEnd);
    batch = list.entries;
    ctStart = list.end;
  }
  if (n - ctStart < MIN_CT_BYTES) throw bad("frame.ct", `ciphertext shorter than ${MIN_CT_BYTES} bytes`);
  let text: string;
  try {
    text = utf8Decoder.decode(input.subarray(BINARY_PREFIX_BYTES, headerEnd));
  } catch {
    throw bad("header", "not valid UTF-8");
  }
  if (nestingExceeds(text, lim.maxDepth)) throw bad("header", `nesting deeper than ${lim.maxDepth}`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw bad("header", "not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw bad("", "header must be an object");
  const frame: unknown = Object.hasOwn(value, "frame") ? (value as { frame: unknown }).frame : undefined;
  if (typeof frame !== "object" || frame === null || Array.isArray(frame)) throw bad("frame", "required");
  const f = frame as Record<string, unknown>;
  if (f["type"] !== "Data" || f["codec"] !== "enc")
    throw bad("frame", "only sealed Data travels as a binary record");
  if (Object.hasOwn(f, "ct")) throw bad("frame.ct", "a binary record's ciphertext follows its header");
  if (batch !== undefined && Object.hasOwn(f, "batch"))
    throw bad("frame.batch", "this record's batch list follows its header");
  const sec: unknown = Object.hasOwn(value, "sec") ? (value as { sec: unknown }).sec : undefined;
  if (typeof sec === "object" && sec !== null && Object.hasOwn(sec, "sig"))
    throw bad("sec.sig", "a binary record is not signed (its AEAD tag authenticates it)");
  f["ct"] = CT_STAND_IN;
  const env = checkEnvelope(value, newCtx(lim));
  if (batch !== undefined) {
    // the one rule of checkEnvelope that looks at a batch beside the header (validate.ts)
    if (env.corrId !== undefined)
      throw bad("corrId", "not allowed on a batched record (each batch entry names its conversation)");
    (env.frame as DataEnc).batch = batch;
  }
  setRecordBytes(env.frame as DataEnc, input.subarray(ctStart));
  return env;
}

/**
 * The batch list of a 0x02 record, at `at`: u16 N (2..MAX_BATCH_ENTRIES), N length bytes, the
 * ids. Every id byte is checked against the id alphabet before anything is decoded, so the ids
 * are ASCII and one decode of their bytes gives every id by offset.
 */
function readBatchList(input: Uint8Array, at: number): { entries: BatchEntry[]; end: number } {
  const n = input.byteLength;
  if (at + 2 > n) throw bad("frame.batch", "list beyond the frame");
  const count = (input[at]! << 8) | input[at + 1]!;
  if (count < 2) throw bad("frame.batch", "needs at least 2 entries (send one message unbatched)");
  if (count > MAX_BATCH_ENTRIES) throw bad("frame.batch", `at most ${MAX_BATCH_ENTRIES} entries`);
  const idsStart = at + 2 + count;
  if (idsStart > n) throw bad("frame.batch", "list beyond the frame");
  let end = idsStart;
  for (let i = 0; i < count; i++) end += (input[at + 2 + i]! & ~MORE_BIT) + 1;
  if (end > n) throw bad("frame.batch", "list beyond the frame");
  for (let i = idsStart; i < end; i++) {
    if (ID_BYTE[input[i]!] !== 1)
      throw bad(`frame.batch[${entryAt(input, at, count, i)}].corrId`, "must be an id");
  }
  const ids = utf8Decoder.decode(input.subarray(idsStart, end));
  const entries: BatchEntry[] = new Array(count);
  let offset = 0;
  for (let i = 0; i < count; i++) {
    const b = input[at + 2 + i]!;
    const len = (b & ~MORE_BIT) + 1;
    const corrId = ids.substring(offset, offset + len);
    entries[i] = (b & MORE_BIT) !== 0 ? { corrId, more: true } : { corrId };
    offset += len;
  }
  return { entries, end };
}

/** which entry of a list holds the byte at `byteAt` (for the refusal's field path) */
function entryAt(input: Uint8Array, at: number, count: number, byteAt: number): number {
  let p = at + 2 + count;
  for (let i = 0; i < count; i++) {
    p += (input[at + 2 + i]! & ~MORE_BIT) + 1;
    if (byteAt < p) return i;
  }
  return count - 1;
}

/**
 * The binary message for a sealed Data envelope whose ciphertext is held as bytes
 * (setRecordBytes). Validated like encodeSealedEnvelope, so nothing a peer would refuse leaves.
 * `batchList`: the receiver takes the 0x02 form (BINARY_BATCH_CAPABILITY); a batched record then
 * carries its list as bytes, anything else stays in the 0x01 form.
 */
export function encodeBinaryRecord(env: Envelope, limits?: Partial<Limits>, batchList = false): Uint8Array {
  const lim = resolveLimits(limits);
  const frame = env.frame;
  const ct = recordBytes(frame);
  if (ct === undefined) throw bad("frame", "not a sealed Data frame holding its ciphertext as bytes");
  if (env.sec?.sig !== undefined) throw bad("sec.sig", "a binary record is not signed");
  if (ct.byteLength + BINARY_PREFIX_BYTES > lim.maxFrameBytes) throw tooLarge(lim.maxFrameBytes);
  const data = frame as DataEnc;
  const batch = batchList ? data.batch : undefined;
  data.ct = CT_STAND_IN;
  try {
    if (batch === undefined) validateEnvelope(env, lim);
    else {
      // the list is checked as it is written (writeBatchList); the rest as usual
      if (env.corrId !== undefined)
        throw bad("corrId", "not allowed on a batched record (each batch entry names its conversation)");
      data.batch = undefined;
      try {
        validateEnvelope(env, lim);
      } finally {
        data.batch = batch;
      }
    }
  } finally {
    data.ct = "";
  }
  // undefined members are left out by JSON.stringify: the envelope, its frame without `ct`
  // (and without the list, when it follows as bytes)
  const header = utf8Bytes(
    JSON.stringify({
      ...env,
      frame: batch === undefined ? { ...data, ct: undefined } : { ...data, ct: undefined, batch: undefined },
    }),
  );
  if (header.byteLength > MAX_BINARY_HEADER_BYTES)
    throw bad("header", `binary header larger than ${MAX_BINARY_HEADER_BYTES} bytes`);
  const listBytes = batch === undefined ? 0 : batchListBytes(batch);
  const total = BINARY_PREFIX_BYTES + header.byteLength + listBytes + ct.byteLength;
  if (total > lim.maxFrameBytes) throw tooLarge(lim.maxFrameBytes);
  const out = scratchBytes(total);
  out[0] = batch === undefined ? BINARY_RECORD_TAG : BINARY_BATCH_RECORD_TAG;
  new DataView(out.buffer, out.byteOffset, BINARY_PREFIX_BYTES).setUint32(1, header.byteLength);
  out.set(header, BINARY_PREFIX_BYTES);
  const ctAt = BINARY_PREFIX_BYTES + header.byteLength;
  if (batch !== undefined) writeBatchList(batch, out, ctAt);
  out.set(ct, ctAt + listBytes);
  return out;
}

/** the size of a list in the 0x02 form; refuses a list a peer would refuse */
function batchListBytes(batch: readonly BatchEntry[]): number {
  const count = batch.length;
  if (count < 2) throw bad("frame.batch", "needs at least 2 entries (send one message unbatched)");
  if (count > MAX_BATCH_ENTRIES) throw bad("frame.batch", `at most ${MAX_BATCH_ENTRIES} entries`);
  let bytes = 2 + count;
  for (let i = 0; i < count; i++) {
    const entry = batch[i]!;
    const corrId: unknown = entry.corrId;
    if (typeof corrId !== "string" || corrId.length === 0 || corrId.length > MAX_ID_LENGTH)
      throw bad(`frame.batch[${i}].corrId`, "must be an id ([A-Za-z0-9_.:-]{1,128})");
    const more: unknown = entry.more;
    if (more !== undefined && more !== true) throw bad(`frame.batch[${i}].more`, "must be true when present");
    bytes += corrId.length;
  }
  return bytes;
}

/** writes a list batchListBytes measured at `at`, checking every id character */
function writeBatchList(batch: readonly BatchEntry[], out: Uint8Array, at: number): void {
  const count = batch.length;
  out[at] = count >>> 8;
  out[at + 1] = count & 0xff;
  let p = at + 2 + count;
  for (let i = 0; i < count; i++) {
    const { corrId, more } = batch[i]!;
    out[at + 2 + i] = (corrId.length - 1) | (more === true ? MORE_BIT : 0);
    for (let j = 0; j < corrId.length; j++) {
      const c = corrId.charCodeAt(j);
      if (c > 0x7f || ID_BYTE[c] !== 1)
        throw bad(`frame.batch[${i}].corrId`, "must be an id ([A-Za-z0-9_.:-]{1,128})");
      out[p++] = c;
    }
  }
}

/**
 * The JSON text form of a sealed Data envelope, whichever way it holds its ciphertext: for a
 * peer that did not announce binary records. The envelope is left as it was.
 */
export function encodeRecordAsText(env: Envelope, limits?: Partial<Limits>): string {
  const frame = env.frame;
  const ct = recordBytes(frame);
  if (ct === undefined) return encodeSealedEnvelope(env, limits);
  const data = frame as DataEnc;
  data.ct = base64urlEncode(ct);
  try {
    return encodeSealedEnvelope(env, limits);
  } finally {
    data.ct = "";
  }
}
