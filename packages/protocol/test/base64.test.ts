import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  Base64Error,
  base64urlByteLength,
  base64urlDecode,
  base64urlEncode,
  isBase64,
  isBase64url,
} from "../src/index.js";

describe("base64url", () => {
  it("matches Node's encoder and round-trips (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 70 }), (bytes) => {
        const s = base64urlEncode(bytes);
        expect(s).toBe(Buffer.from(bytes).toString("base64url"));
        expect(base64urlByteLength(s)).toBe(bytes.length);
        expect([...base64urlDecode(s)]).toEqual([...bytes]);
      }),
      { numRuns: 300 },
    );
  });

  it("refuses padding, foreign characters, impossible lengths and dirty trailing bits", () => {
    for (const s of ["QQ==", "QQ=", "Q", "QUJD+", "QU/D", "QU JD", "QUJD\n", "QR", "QUJ", "QUK"]) {
      expect(isBase64url(s), s).toBe(false);
      expect(() => base64urlDecode(s)).toThrow(Base64Error);
    }
    expect(isBase64url("QQ")).toBe(true);
    expect(isBase64url("QUI")).toBe(true);
    expect(isBase64url("")).toBe(true);
  });
});

describe("standard base64 (x5c)", () => {
  it("accepts padded canonical text only", () => {
    for (const s of ["", "QQ==", "QUI=", "QUJD", "+/+/"]) expect(isBase64(s), s).toBe(true);
    for (const s of ["QQ", "QQ=", "QR==", "QUJ=", "Q===", "QU=D", "-_-_", "QUJD\n"]) {
      expect(isBase64(s), s).toBe(false);
    }
  });
});
