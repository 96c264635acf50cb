import { describe, expect, it } from "vitest";
import { base62, sidFromPath } from "../src/sid.js";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** the textbook definition, for comparison */
function reference(bytes: Uint8Array): string {
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

describe("base62", () => {
  it("matches the textbook encoding for random inputs, leading zero bytes included", () => {
    for (let i = 0; i < 2000; i++) {
      const bytes = new Uint8Array(i % 33);
      globalThis.crypto.getRandomValues(bytes);
      if (i % 3 === 0 && bytes.length > 0) bytes[0] = 0;
      if (i % 5 === 0 && bytes.length > 1) bytes[1] = 0;
      expect(base62(bytes)).toBe(reference(bytes));
    }
  });

  it("encodes the empty and all-zero inputs as zeros", () => {
    expect(base62(new Uint8Array(0))).toBe("");
    expect(base62(new Uint8Array(3))).toBe("000");
  });

  it("gives 16-byte sids of at most 22 characters", () => {
    const sid = sidFromPath("/sentinel0/node1");
    expect(sid).toMatch(/^[0-9A-Za-z]{1,22}$/);
    expect(sidFromPath("/sentinel0/node1")).toBe(sid);
  });
});
