/**
 * The message one sentinel publishes to another (`fame.sentinel.<id>`): a small JSON header,
 * a newline, then the envelope exactly as the sender's connection delivered it. The envelope
 * is not re-encoded or wrapped in JSON, so forwarding costs one header and one copy.
 *
 * - `p` (physical): a frame to a node attached at the receiver, whose checks need state the
 *   receiver owns (pending opens, pins, calls in flight): it runs authorize/route/deliver/account
 *   there, for a remote session standing for `from`.
 * - `d` (deliver): routing was decided where the state lives (the sender's sentinel picked the
 *   replica, or the sentinel itself answers): the receiver hands it to node `to` as it is.
 */
export type ForwardKind = "p" | "d";

/** Who sent the frame, as the sentinel it is attached to authenticated it. */
export interface Attested {
  readonly systemId: string;
  readonly sid: string;
  readonly path: string;
  readonly principal: string;
  readonly instanceId: string;
}

export interface ForwardHeader {
  readonly k: ForwardKind;
  /** the publishing sentinel: replies and refusals go back there */
  readonly src: string;
  /** the systemId of the node the frame is for, attached at the receiver */
  readonly to: string;
  /** the sender; absent when the sentinel `src` itself speaks (a refusal, a KeyAnnounce…) */
  readonly from?: Attested | undefined;
}

export interface DecodedForward {
  readonly header: ForwardHeader;
  /** the envelope's bytes, still to be decoded (and shape-checked) with the frame limits */
  readonly envelope: Buffer;
}

/** A header is a handful of ids and one path: anything longer is not from a peer sentinel. */
export const MAX_HEADER_BYTES = 2048;
const MAX_ID = 256;
const NEWLINE = 0x0a;
const SENTINEL_ID = /^[A-Za-z0-9_-]{1,64}$/;

export function encodeForward(header: ForwardHeader, envelope: string | Buffer): Buffer {
  const head = JSON.stringify(header);
  const body = typeof envelope === "string" ? Buffer.from(envelope) : envelope;
  const out = Buffer.allocUnsafe(Buffer.byteLength(head) + 1 + body.length);
  const n = out.write(head, 0);
  out[n] = NEWLINE;
  body.copy(out, n + 1);
  return out;
}

/**
 * A peer's message, checked for size and shape before anything reads it: a sentinel trusts
 * its peers' attestation of who sent a frame, not their bytes. A string names what is wrong.
 */
export function decodeForward(data: Uint8Array, maxEnvelopeBytes: number): DecodedForward | string {
  if (data.length > MAX_HEADER_BYTES + 1 + maxEnvelopeBytes) return "message over the frame limit";
  const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length);
  const nl = bytes.indexOf(NEWLINE);
  if (nl <= 0 || nl > MAX_HEADER_BYTES) return "no header";
  if (bytes.length - nl - 1 > maxEnvelopeBytes) return "envelope over the frame limit";
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString("utf8", 0, nl));
  } catch {
    return "header is not JSON";
  }
  const header = headerOf(raw);
  if (typeof header === "string") return header;
  return { header, envelope: bytes.subarray(nl + 1) };
}

function headerOf(raw: unknown): ForwardHeader | string {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return "header is not an object";
  const h = raw as Record<string, unknown>;
  if (h["k"] !== "p" && h["k"] !== "d") return "unknown kind";
  if (typeof h["src"] !== "string" || !SENTINEL_ID.test(h["src"])) return "bad src";
  if (!isId(h["to"])) return "bad to";
  const from = h["from"];
  if (from === undefined) {
    if (h["k"] === "p") return "a physical frame needs its sender";
    return { k: h["k"], src: h["src"], to: h["to"] };
  }
  const attested = attestedOf(from);
  if (attested === undefined) return "bad from";
  return { k: h["k"], src: h["src"], to: h["to"], from: attested };
}

function attestedOf(raw: unknown): Attested | undefined {
  if (typeof raw !== "object" || raw === null) return undefined;
  const f = raw as Record<string, unknown>;
  const { systemId, sid, path, principal, instanceId } = f;
  if (!isId(systemId) || !isId(sid) || !isId(path)) return undefined;
  if (!isText(principal) || !isText(instanceId)) return undefined;
  if (path.charCodeAt(0) !== 47 /* / */ || !path.endsWith(`/${systemId}`)) return undefined;
  return { systemId, sid, path, principal, instanceId };
}

function isText(v: unknown): v is string {
  return typeof v === "string" && v.length <= MAX_ID;
}

function isId(v: unknown): v is string {
  return typeof v === "string" && v.length > 0 && v.length <= MAX_ID;
}
