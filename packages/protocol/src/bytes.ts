/**
 * Short-lived byte arrays for the per-record path (AAD, signing input, binary record frames).
 * Under node, a `new Uint8Array(n)` or `TextEncoder.encode()` makes a fresh ArrayBuffer, which
 * costs ~3 µs on this project's machines however small it is, and a sealed record needed half
 * a dozen of them on each side. Node's Buffer takes small ones from its shared pool instead.
 * Elsewhere (a browser) the standard classes are used. Either way the result is a plain
 * Uint8Array (a view: `.slice()` copies, as callers expect); nothing may rely on owning its
 * `.buffer`, which is shared under node.
 */
const NativeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer;
const encoder = new TextEncoder();

/** the UTF-8 bytes of `text` */
export const utf8Bytes: (text: string) => Uint8Array =
  NativeBuffer !== undefined
    ? (text) => view(NativeBuffer.from(text, "utf8"))
    : (text) => encoder.encode(text);

/** `length` bytes whose content the caller overwrites entirely */
export const scratchBytes: (length: number) => Uint8Array =
  NativeBuffer !== undefined
    ? (length) => view(NativeBuffer.allocUnsafe(length))
    : (length) => new Uint8Array(length);

function view(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
