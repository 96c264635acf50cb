/**
 * What signatures and channel AEAD bind to. Only headers that no hop may rewrite are
 * covered (`v,id,sid,to,replyTo,corrId,ts`); `ttlMs`, `meta`, `sec` and `aft` are left out
 * because they may be adjusted in transit or carry the signature itself. The payload enters
 * through its digest so a relay can check a signature without re-serializing the payload.
 */
import { scratchBytes, sha256, utf8Bytes } from "@fame/crypto";
import { base64urlEncode } from "./base64.js";
import { canonicalJsonBytes } from "./canonical-json.js";
import type { Envelope } from "./envelope.js";
import type { Frame } from "./frames.js";

/** ASCII Unit Separator: cannot occur in a sid, in canonical JSON text, or in base64url. */
export const SIGNING_SEPARATOR = 0x1f;

/**
 * base64url(SHA-256(x)), where x is canonicalJson(payload) for clear Data,
 * canonicalJson([batch, payload]) for a clear batch (so a signature binds the message list
 * the sentinel accounts by, as the AEAD additional data does for a sealed one), the UTF-8 of
 * `ct` for sealed Data (the ciphertext text as sent), and canonicalJson(frame) otherwise.
 * Any `pd` already on a frame is ignored here: this always computes.
 */
export function payloadDigest(frame: Frame): string {
  let bytes: Uint8Array;
  if (frame.type === "Data") {
    bytes =
      frame.codec === "enc"
        ? utf8Bytes(frame.ct)
        : canonicalJsonBytes(frame.batch === undefined ? frame.payload : [frame.batch, frame.payload]);
  } else {
    bytes = canonicalJsonBytes(frame);
  }
  return base64urlEncode(sha256(bytes));
}

/**
 * Whether a Data frame's declared `pd` matches its content (true when none is declared).
 * Signatures never rely on it (signingInput computes the digest); this is for a receiver
 * that wants to refuse a frame whose hint disagrees with its content.
 */
export function payloadDigestMatches(frame: Frame): boolean {
  return frame.type !== "Data" || frame.pd === undefined || frame.pd === payloadDigest(frame);
}

/** Printable ASCII other than `"` and `\`: JSON.stringify would only add the quotes. */
const JSON_PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
const plain = (s: unknown): s is string => typeof s === "string" && JSON_PLAIN.test(s);
const plainOrAbsent = (s: unknown) => s === undefined || plain(s);

export function immutableHeaders(env: Envelope): Uint8Array {
  const { v, id, sid, to, replyTo, corrId, ts } = env;
  // Hot path (every seal, open, sign and verify): the ids, sid and addresses of a valid
  // envelope are plain ASCII and v/ts integers, so the canonical text can be written out
  // directly, members in JCS order. Anything else takes the general canonicalJson path.
  if (
    Number.isSafeInteger(v) &&
    Number.isSafeInteger(ts) &&
    plain(id) &&
    plain(sid) &&
    plainOrAbsent(to) &&
    plainOrAbsent(replyTo) &&
    plainOrAbsent(corrId)
  ) {
    let text = corrId === undefined ? "{" : `{"corrId":"${corrId}",`;
    text += `"id":"${id}",`;
    if (replyTo !== undefined) text += `"replyTo":"${replyTo}",`;
    text += `"sid":"${sid}",`;
    if (to !== undefined) text += `"to":"${to}",`;
    return utf8Bytes(`${text}"ts":${ts},"v":${v}}`);
  }
  return canonicalJsonBytes({ v, id, sid, to, replyTo, corrId, ts });
}

/**
 * `sid ‖ 0x1F ‖ immutableHeaders ‖ 0x1F ‖ pd`, pd always computed from the frame as received.
 * A frame's declared `pd` is never used: a signature over a declared digest would not cover
 * the payload beside it, and anyone on the path could swap the payload and declare the old
 * digest (the signature would still verify).
 */
export function signingInput(env: Envelope): Uint8Array {
  const pd = payloadDigest(env.frame);
  const sid = utf8Bytes(env.sid);
  const headers = immutableHeaders(env);
  const digest = utf8Bytes(pd);
  const out = scratchBytes(sid.length + 1 + headers.length + 1 + digest.length);
  out.set(sid, 0);
  out[sid.length] = SIGNING_SEPARATOR;
  out.set(headers, sid.length + 1);
  out[sid.length + 1 + headers.length] = SIGNING_SEPARATOR;
  out.set(digest, sid.length + 2 + headers.length);
  return out;
}

/**
 * Additional authenticated data for channel encryption: the immutable headers, and for a
 * coalesced record also its message list, `headers ‖ 0x1F ‖ corrId[+] , corrId[+] …`
 * ("+" marking an entry with more to follow). Ids cannot contain 0x1F, "," or "+", so the
 * text is unambiguous; binding it means the clear list the sentinel accounts by is exactly
 * the one the receiver delivers.
 */
export function aeadAad(env: Envelope): Uint8Array {
  const frame = env.frame;
  if (frame.type !== "Data" || frame.codec !== "enc" || frame.batch === undefined)
    return immutableHeaders(env);
  let list = "";
  for (let i = 0; i < frame.batch.length; i++) {
    const entry = frame.batch[i]!;
    if (i > 0) list += ",";
    list += entry.more === true ? `${entry.corrId}+` : entry.corrId;
  }
  const headers = immutableHeaders(env);
  const tail = utf8Bytes(list);
  const out = scratchBytes(headers.length + 1 + tail.length);
  out.set(headers, 0);
  out[headers.length] = SIGNING_SEPARATOR;
  out.set(tail, headers.length + 1);
  return out;
}
