/**
 * Structural validation of envelopes. Hand-written rather than schema-driven: no schema
 * library is in the dependency set, and a direct walk lets every check be bounded and
 * every failure carry a precise field path (see docs/protocol.md for the measured cost).
 */
import type { Envelope } from "./envelope.js";
import type { Frame } from "./frames.js";
import { type Limits, resolveLimits } from "./limits.js";
import { ProtocolError } from "./protocol-error.js";
import {
  checkAddress,
  checkCompactJws,
  checkFrame,
  checkId,
  checkPrimitiveMap,
  checkSid,
} from "./validate-frames.js";
import {
  type Ctx,
  checkKeys,
  expectBase64url,
  expectInteger,
  expectLiteral,
  expectObject,
  fail,
  get,
  type Obj,
} from "./validate-primitives.js";

const ENVELOPE_KEYS = new Set([
  "v",
  "id",
  "sid",
  "to",
  "replyTo",
  "corrId",
  "ts",
  "ttlMs",
  "frame",
  "sec",
  "aft",
  "meta",
]);
const SEC_KEYS = new Set(["sig", "enc"]);
const SIG_KEYS = new Set(["alg", "kid", "val"]);
const ENC_KEYS = new Set(["alg", "cid", "seq", "kid", "ac"]);
const MAX_AAD_CHECK_BYTES = 64;

function checkSec(value: unknown, frame: Frame): void {
  const sec = expectObject(value, "sec");
  checkKeys(sec, SEC_KEYS, "sec");
  const sig = get(sec, "sig");
  const enc = get(sec, "enc");
  if (sig === undefined && enc === undefined) fail("sec", "needs sig or enc");
  if (sig !== undefined) {
    const o = expectObject(sig, "sec.sig");
    checkKeys(o, SIG_KEYS, "sec.sig");
    expectLiteral(get(o, "alg"), "sec.sig.alg", ["EdDSA"]);
    checkId(get(o, "kid"), "sec.sig.kid");
    expectBase64url(get(o, "val"), "sec.sig.val", 64);
  }
  if (enc !== undefined) {
    const o = expectObject(enc, "sec.enc");
    checkKeys(o, ENC_KEYS, "sec.enc");
    expectLiteral(get(o, "alg"), "sec.enc.alg", ["chacha20-poly1305-channel"]);
    checkId(get(o, "cid"), "sec.enc.cid");
    expectInteger(get(o, "seq"), "sec.enc.seq", 1);
    checkId(get(o, "kid"), "sec.enc.kid");
    expectBase64url(get(o, "ac"), "sec.enc.ac", 1, MAX_AAD_CHECK_BYTES);
    // Only sealed Data has a ciphertext for the channel parameters to apply to.
    if (frame.type !== "Data" || frame.codec !== "enc")
      fail("sec.enc", "only allowed on Data with codec enc");
  }
}

/** The checks shared by decodeEnvelope and validateEnvelope; assumes a JSON-shaped input. */
export function checkEnvelope(value: unknown, ctx: Ctx): Envelope {
  const o: Obj = expectObject(value, "");
  checkKeys(o, ENVELOPE_KEYS, "");
  const v = get(o, "v");
  if (v === undefined) fail("v", "required");
  if (v !== 1) fail("v", "unsupported version (expected 1)");
  checkId(get(o, "id"), "id");
  checkSid(get(o, "sid"), "sid");
  const to = get(o, "to");
  if (to !== undefined) checkAddress(to, "to");
  const replyTo = get(o, "replyTo");
  if (replyTo !== undefined) checkAddress(replyTo, "replyTo");
  const corrId = get(o, "corrId");
  if (corrId !== undefined) checkId(corrId, "corrId");
  expectInteger(get(o, "ts"), "ts", 0);
  const ttlMs = get(o, "ttlMs");
  if (ttlMs !== undefined) expectInteger(ttlMs, "ttlMs", 1);
  const aft = get(o, "aft");
  if (aft !== undefined) checkCompactJws(aft, "aft", ctx);
  const meta = get(o, "meta");
  if (meta !== undefined) checkPrimitiveMap(meta, "meta", ctx.limits.maxMetaEntries, ctx);
  const frameValue = get(o, "frame");
  if (frameValue === undefined) fail("frame", "required");
  const frame = checkFrame(frameValue, ctx);
  const sec = get(o, "sec");
  if (sec !== undefined) checkSec(sec, frame);
  else if (frame.type === "Data" && frame.codec === "enc") fail("sec.enc", "required with codec enc");
  // A coalesced record's conversations are its batch entries; a corrId beside them would be ambiguous.
  if (frame.type === "Data" && frame.batch !== undefined && corrId !== undefined)
    fail("corrId", "not allowed on a batched record (each batch entry names its conversation)");
  return o as unknown as Envelope;
}

export function newCtx(limits: Readonly<Limits>): Ctx {
  return { limits, budget: limits.maxFrameBytes };
}

/**
 * Anything other than our own error (a throwing getter, a hostile Proxy) becomes
 * bad_envelope, so callers handling in-process values only ever see ProtocolError.
 */
function guarded<T>(run: () => T): T {
  try {
    return run();
  } catch (err) {
    if (err instanceof ProtocolError) throw err;
    throw new ProtocolError("bad_envelope", "", "value could not be inspected");
  }
}

/** Validate an already-parsed value; returns it typed as an Envelope (no copy is made). */
export function validateEnvelope(value: unknown, limits?: Partial<Limits>): Envelope {
  const ctx = newCtx(resolveLimits(limits));
  return guarded(() => checkEnvelope(value, ctx));
}

/** Validate a frame on its own; field paths still start with "frame". */
export function validateFrame(value: unknown, limits?: Partial<Limits>): Frame {
  const ctx = newCtx(resolveLimits(limits));
  return guarded(() => checkFrame(value, ctx));
}
