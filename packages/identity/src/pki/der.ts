/**
 * Just enough DER to read and write the two structures @peculiar/x509 has no class for
 * (the FAME extension's UTF8String and NameConstraints). The reader is strict: definite,
 * minimally-encoded lengths only, never reads past its input, and callers bound the input size.
 */

export const TAG_BOOLEAN = 0x01;
export const TAG_INTEGER = 0x02;
export const TAG_BIT_STRING = 0x03;
export const TAG_OCTET_STRING = 0x04;
export const TAG_OID = 0x06;
export const TAG_UTF8_STRING = 0x0c;
export const TAG_UTC_TIME = 0x17;
export const TAG_GENERALIZED_TIME = 0x18;
export const TAG_SEQUENCE = 0x30;
export const TAG_SET = 0x31;

export class DerError extends Error {
  override readonly name = "DerError";
}

export interface Tlv {
  tag: number;
  value: Uint8Array;
  /** The whole element (tag, length and value) as a view of the input. */
  raw: Uint8Array;
  /** Offset just past this element in the buffer it was read from. */
  end: number;
}

export function encodeLength(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

export function encodeTlv(tag: number, value: Uint8Array): Uint8Array {
  const len = encodeLength(value.length);
  const out = new Uint8Array(1 + len.length + value.length);
  out[0] = tag;
  out.set(len, 1);
  out.set(value, 1 + len.length);
  return out;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Read one element at `offset`. Only single-byte tags occur in the structures we parse. */
export function readTlv(buf: Uint8Array, offset: number): Tlv {
  if (offset + 2 > buf.length) throw new DerError("truncated element");
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError("multi-byte tags are not supported");
  const first = buf[offset + 1]!;
  let length: number;
  let at = offset + 2;
  if (first < 0x80) {
    length = first;
  } else {
    const count = first & 0x7f;
    // 0x80 is BER's indefinite length; more than 3 length bytes means > 16 MiB, never legitimate here.
    if (count === 0 || count > 3) throw new DerError("unsupported length encoding");
    if (at + count > buf.length) throw new DerError("truncated length");
    if (buf[at] === 0) throw new DerError("non-minimal length");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[at + i]!;
    if (length < 0x80) throw new DerError("non-minimal length");
    at += count;
  }
  const end = at + length;
  if (end > buf.length) throw new DerError("truncated value");
  return { tag, value: buf.subarray(at, end), raw: buf.subarray(offset, end), end };
}

/** Read a buffer that must hold exactly one element, nothing after it. */
export function readSingle(buf: Uint8Array, expectedTag: number): Uint8Array {
  const tlv = readTlv(buf, 0);
  if (tlv.tag !== expectedTag) throw new DerError(`expected tag 0x${expectedTag.toString(16)}`);
  if (tlv.end !== buf.length) throw new DerError("trailing bytes");
  return tlv.value;
}

/** The elements of a constructed value, in order. */
export function readChildren(value: Uint8Array, maxChildren: number): Tlv[] {
  const out: Tlv[] = [];
  for (let at = 0; at < value.length; ) {
    if (out.length >= maxChildren) throw new DerError("too many elements");
    const tlv = readTlv(value, at);
    out.push(tlv);
    at = tlv.end;
  }
  return out;
}

/**
 * OBJECT IDENTIFIER with arcs of any size. asn1js (under @peculiar/x509) cannot re-encode
 * arcs above 2^53 once parsed, which is exactly what a 2.25.<UUID> OID has, so the
 * structures carrying the FAME extension are assembled here instead.
 */
export function encodeOid(oid: string): Uint8Array {
  if (!/^[0-2](?:\.(?:0|[1-9][0-9]*))+$/.test(oid)) throw new TypeError(`invalid OID ${oid}`);
  const arcs = oid.split(".").map((a) => BigInt(a));
  const [a0, a1] = arcs as [bigint, bigint];
  if (a0 < 2n && a1 > 39n) throw new TypeError(`invalid OID ${oid}`);
  const bytes: number[] = [];
  for (const arc of [a0 * 40n + a1, ...arcs.slice(2)]) {
    const group: number[] = [Number(arc & 0x7fn)];
    for (let n = arc >> 7n; n > 0n; n >>= 7n) group.unshift(Number(n & 0x7fn) | 0x80);
    bytes.push(...group);
  }
  return encodeTlv(TAG_OID, Uint8Array.from(bytes));
}

/** Non-negative INTEGER from big-endian magnitude bytes (minimal encoding). */
export function encodeUnsignedInteger(magnitude: Uint8Array): Uint8Array {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const body = magnitude.subarray(start);
  return encodeTlv(TAG_INTEGER, body[0]! & 0x80 ? concatBytes(Uint8Array.of(0), body) : body);
}

export function encodeSequence(...children: Uint8Array[]): Uint8Array {
  return encodeTlv(TAG_SEQUENCE, concatBytes(...children));
}

export function encodeBitString(bytes: Uint8Array): Uint8Array {
  return encodeTlv(TAG_BIT_STRING, concatBytes(Uint8Array.of(0), bytes));
}

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; whole seconds, Zulu. */
export function encodeTime(date: Date): Uint8Array {
  const iso = new Date(Math.floor(date.getTime() / 1000) * 1000).toISOString(); // YYYY-MM-DDTHH:MM:SS.000Z
  const digits = iso.slice(0, 19).replace(/[-:T]/g, "");
  const year = date.getUTCFullYear();
  if (year >= 1950 && year <= 2049)
    return encodeTlv(TAG_UTC_TIME, new TextEncoder().encode(`${digits.slice(2)}Z`));
  return encodeTlv(TAG_GENERALIZED_TIME, new TextEncoder().encode(`${digits}Z`));
}

/** Dotted form of an OBJECT IDENTIFIER body; arcs of any size (BigInt), minimal encoding required. */
export function decodeOid(body: Uint8Array): string {
  if (body.length === 0 || body.length > 64) throw new DerError("bad OID length");
  const arcs: bigint[] = [];
  let n = 0n;
  let fresh = true;
  for (const b of body) {
    if (fresh && b === 0x80) throw new DerError("non-minimal OID arc");
    n = (n << 7n) | BigInt(b & 0x7f);
    fresh = (b & 0x80) === 0;
    if (fresh) {
      arcs.push(n);
      n = 0n;
    }
  }
  if (!fresh) throw new DerError("truncated OID arc");
  const first = arcs.shift()!;
  const head = first < 80n ? [first / 40n, first % 40n] : [2n, first - 80n];
  return [...head, ...arcs].join(".");
}
