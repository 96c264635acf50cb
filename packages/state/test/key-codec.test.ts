import { describe, expect, it } from "vitest";
import { decodeKey, decodeKeyPart, encodeKey, encodeKeyPart, MAX_KEY_PART_BYTES } from "../src/key-codec.js";

const KV_KEY = /^[-/_=.A-Za-z0-9]+$/;

describe("state key encoding", () => {
  it("turns any string into a valid KV token and back", () => {
    const samples = [
      "math@fame.fabric",
      "name@/fabric/abc",
      "*.wild.card >",
      "sid with spaces/and.dots",
      "ünïcødé ✓",
      "a",
      "\u0000nul",
    ];
    for (const s of samples) {
      const token = encodeKeyPart(s);
      expect(token).toMatch(KV_KEY);
      expect(token).not.toContain(".");
      expect(decodeKeyPart(token)).toBe(s);
    }
  });

  it("joins compound keys with dots and splits them again", () => {
    const key = encodeKey(["client.sid", "cid/1"]);
    expect(key.split(".")).toHaveLength(2);
    expect(key).toMatch(KV_KEY);
    expect(decodeKey(key, 2)).toEqual(["client.sid", "cid/1"]);
    expect(decodeKey(key, 1)).toBeUndefined();
  });

  it("refuses empty and oversized parts", () => {
    expect(() => encodeKeyPart("")).toThrow(TypeError);
    expect(() => encodeKeyPart("x".repeat(MAX_KEY_PART_BYTES + 1))).toThrow(RangeError);
    expect(encodeKeyPart("x".repeat(MAX_KEY_PART_BYTES))).toMatch(KV_KEY);
  });

  it("rejects tokens it would not have produced", () => {
    expect(decodeKeyPart("")).toBeUndefined();
    expect(decodeKeyPart("a.b")).toBeUndefined();
    expect(decodeKeyPart("YQ==")).toBeUndefined(); // padded base64, not base64url
    expect(decodeKeyPart("YR")).toBeUndefined(); // non-canonical trailing bits
    expect(decodeKeyPart("_w")).toBeUndefined(); // 0xff: not UTF-8
    expect(decodeKeyPart("A".repeat(1000))).toBeUndefined();
  });
});
