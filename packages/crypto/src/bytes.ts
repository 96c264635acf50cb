import { CryptoError, type CryptoErrorCode } from "./errors.js";

// Portable byte helpers: no node: imports, so the noble back end and the record layer can
// run in a browser. Node's Buffer is used only where the global exists (below).

const utf8 = new TextEncoder();

/**
 * Under node, `new Uint8Array(n)` and `TextEncoder.encode()` make a fresh ArrayBuffer, which
 * costs ~3 µs however small it is, and a sealed record needed half a dozen on each side (AAD,
 * signing input, plaintext, binary frame). Node's Buffer takes small ones from its shared pool.
 * Either way the result is a plain Uint8Array (a view: `.slice()` copies, as callers expect);
 * nothing may rely on owning its `.buffer`, which is shared under node.
 */
const NativeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer;

/** Plain Uint8Array view of a Buffer, so callers never see Buffer-specific behaviour (toEqual, toString). */
export function view(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** the UTF-8 bytes of `text` */
export const utf8Bytes: (text: string) => Uint8Array =
  NativeBuffer !== undefined ? (text) => view(NativeBuffer.from(text, "utf8")) : (text) => utf8.encode(text);

/** `length` bytes whose content the caller overwrites entirely (short-lived, per message) */
export const scratchBytes: (length: number) => Uint8Array =
  NativeBuffer !== undefined
    ? (length) => view(NativeBuffer.allocUnsafe(length))
    : (length) => new Uint8Array(length);

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

const HEX_DIGITS = "0123456789abcdef";

export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) out += HEX_DIGITS[byte >> 4]! + HEX_DIGITS[byte & 15]!;
  return out;
}

export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new CryptoError("bad_input", "hex string must have even length and only hex digits");
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Constant-time for equal lengths; use it for anything derived from secrets. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

export function isAllZero(bytes: Uint8Array): boolean {
  let acc = 0;
  for (const byte of bytes) acc |= byte;
  return acc === 0;
}

export function assertBytes(
  value: unknown,
  name: string,
  length?: number,
  code: CryptoErrorCode = "bad_input",
): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new CryptoError(code, `${name} must be a Uint8Array`);
  if (length !== undefined && value.length !== length) {
    throw new CryptoError(code, `${name} must be ${length} bytes, got ${value.length}`);
  }
}
