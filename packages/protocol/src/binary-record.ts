/**
 * The binary wire form of sealed channel Data: one binary WebSocket message =
 *   0x01 ‖ u32 big-endian H ‖ H bytes of header ‖ the raw ciphertext (with its 16-byte tag)
 * where the header is the UTF-8 JSON of the envelope without `frame.ct`. The ciphertext skips
 * base64 (a third larger) and the JSON escaping, scanning and copying of a large string at
 * every hop; the sentinel routes on the header alone and forwards the bytes as received.
 * The AEAD binds exactly what it binds in the JSON form (aeadAad: the immutable headers and a
 * batch list), so a record opens the same whichever form carried it.
 * Sent only between peers that announced BINARY_RECORDS_CAPABILITY at attach.
 */
import { scratchBytes, utf8Bytes } from "@fame/crypto";
import { base64urlEncode } from "./base64.js";
import { encodeSealedEnvelope } from "./codec.js";
import type { Envelope } from "./envelope.js";
import type { DataEnc, Frame } from "./frames.js";
import { nestingExceeds } from "./json-depth.js";
import { type Limits, resolveLimits } from "./limits.js";
import { ProtocolError } from "./protocol-error.js";
import { checkEnvelope, newCtx, validateEnvelope } from "./validate.js";

/** announced in NodeAttach.capabilities and echoed in NodeAttachAck.capabilities */
export const BINARY_RECORDS_CAPABILITY = "binary-records";
/** first byte of a binary sealed record (the only binary form so far) */
export const BINARY_RECORD_TAG = 0x01;
/** tag and header length */
export const BINARY_PREFIX_BYTES = 5;
/** a header is an envelope without its payload: ids, addresses, meta, a batch list, an AFT */
export const MAX_BINARY_HEADER_BYTES = 32 * 1024;
const MIN_CT_BYTES = 16;
/** 16 zero bytes in base64url: stands in for the ciphertext while the rest is validated */
const CT_STAND_IN = "AAAAAAAAAAAAAAAAAAAAAA";

const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Ciphertexts held as bytes, by the frame carrying them (whose `ct` is then ""): set by the
 * sealer and by decodeBinaryRecord, read by whoever opens or re-encodes the record.
 */
const ciphertexts = new WeakMap<object, Uint8Array>();

/** Makes `frame` carry its ciphertext as bytes: `ct` becomes "" (see recordBytes). */
export function setRecordBytes(frame: DataEnc, ct: Uint8Array): void {
  frame.ct = "";
  ciphertexts.set(frame, ct);
}

/** The ciphertext of a frame that carries it as bytes, else undefined (ct is base64url text). */
export function recordBytes(frame: Frame): Uint8Array | undefined {
  return frame.type === "Data" && frame.codec === "enc" && frame.ct === ""
    ? ciphertexts.get(frame)
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
 * Decode one binary message. Same guarantees as decodeEnvelope, cheapest check first: size
 * before anything, prefix and header bounds, then UTF-8, nesting, JSON.parse and the full
 * envelope validation of the header. Only sealed Data travels this way, unsigned (its AEAD
 * authenticates it). Throws only ProtocolError.
 */
export function decodeBinaryRecord(input: Uint8Array, limits?: Partial<Limits>): Envelope {
  const lim = resolveLimits(limits);
  const n = input.byteLength;
  if (n > lim.maxFrameBytes) throw tooLarge(lim.maxFrameBytes);
  if (n < BINARY_PREFIX_BYTES) throw bad("", "binary frame shorter than its prefix");
  if (input[0] !== BINARY_RECORD_TAG) throw bad("", "unknown binary frame form");
  const headerBytes = ((input[1]! << 24) >>> 0) + ((input[2]! << 16) | (input[3]! << 8) | input[4]!);
  if (headerBytes > MAX_BINARY_HEADER_BYTES)
    throw bad("header", `binary header larger than ${MAX_BINARY_HEADER_BYTES} bytes`);
  const ctStart = BINARY_PREFIX_BYTES + headerBytes;
  if (ctStart > n) throw bad("header", "header length beyond the frame");
  if (n - ctStart < MIN_CT_BYTES) throw bad("frame.ct", `ciphertext shorter than ${MIN_CT_BYTES} bytes`);
  let text: string;
  try {
    text = utf8Decoder.decode(input.subarray(BINARY_PREFIX_BYTES, ctStart));
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
  const sec: unknown = Object.hasOwn(value, "sec") ? (value as { sec: unknown }).sec : undefined;
  if (typeof sec === "object" && sec !== null && Object.hasOwn(sec, "sig"))
    throw bad("sec.sig", "a binary record is not signed (its AEAD tag authenticates it)");
  f["ct"] = CT_STAND_IN;
  const env = checkEnvelope(value, newCtx(lim));
  setRecordBytes(env.frame as DataEnc, input.subarray(ctStart));
  return env;
}

/**
 * The binary message for a sealed Data envelope whose ciphertext is held as bytes
 * (setRecordBytes). Validated like encodeSealedEnvelope, so nothing a peer would refuse leaves.
 */
export function encodeBinaryRecord(env: Envelope, limits?: Partial<Limits>): Uint8Array {
  const lim = resolveLimits(limits);
  const frame = env.frame;
  const ct = recordBytes(frame);
  if (ct === undefined) throw bad("frame", "not a sealed Data frame holding its ciphertext as bytes");
  if (env.sec?.sig !== undefined) throw bad("sec.sig", "a binary record is not signed");
  if (ct.byteLength + BINARY_PREFIX_BYTES > lim.maxFrameBytes) throw tooLarge(lim.maxFrameBytes);
  const data = frame as DataEnc;
  data.ct = CT_STAND_IN;
  try {
    validateEnvelope(env, lim);
  } finally {
    data.ct = "";
  }
  // undefined members are left out by JSON.stringify: the envelope, its frame without `ct`
  const header = utf8Bytes(JSON.stringify({ ...env, frame: { ...data, ct: undefined } }));
  if (header.byteLength > MAX_BINARY_HEADER_BYTES)
    throw bad("header", `binary header larger than ${MAX_BINARY_HEADER_BYTES} bytes`);
  const total = BINARY_PREFIX_BYTES + header.byteLength + ct.byteLength;
  if (total > lim.maxFrameBytes) throw tooLarge(lim.maxFrameBytes);
  const out = scratchBytes(total);
  out[0] = BINARY_RECORD_TAG;
  new DataView(out.buffer, out.byteOffset, BINARY_PREFIX_BYTES).setUint32(1, header.byteLength);
  out.set(header, BINARY_PREFIX_BYTES);
  out.set(ct, BINARY_PREFIX_BYTES + header.byteLength);
  return out;
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
