import { sha256 } from "@fame/crypto";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const ZERO = 0x30;

/**
 * Base62 of an unsigned big-endian byte string (leading zero bytes kept as "0"). Built as one
 * flat string: prepending character by character made a chain of ~10 cons strings (~300 B)
 * for every sid a sentinel keeps for as long as the node is attached.
 */
export function base62(bytes: Uint8Array): string {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  const codes: number[] = [];
  while (n > 0n) {
    codes.push(ALPHABET.charCodeAt(Number(n % 62n)));
    n /= 62n;
  }
  for (let i = 0; i < bytes.length && bytes[i] === 0; i++) codes.push(ZERO);
  return String.fromCharCode(...codes.reverse());
}

const encoder = new TextEncoder();

/** `sid` of a physical path: base62 of the first 16 bytes of SHA-256(path). */
export function sidFromPath(path: string): string {
  return base62(sha256(encoder.encode(path)).subarray(0, 16));
}
