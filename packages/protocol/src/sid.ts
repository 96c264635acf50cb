import { sha256 } from "@fame/crypto";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** Base62 of an unsigned big-endian byte string (leading zero bytes kept as "0"). */
export function base62(bytes: Uint8Array): string {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  let out = "";
  while (n > 0n) {
    out = ALPHABET[Number(n % 62n)] + out;
    n /= 62n;
  }
  let zeros = 0;
  while (zeros < bytes.length && bytes[zeros] === 0) zeros++;
  return "0".repeat(zeros) + out;
}

const encoder = new TextEncoder();

/** `sid` of a physical path: base62 of the first 16 bytes of SHA-256(path). */
export function sidFromPath(path: string): string {
  return base62(sha256(encoder.encode(path)).subarray(0, 16));
}
