import { describe, expect, it } from "vitest";
import { scratchBytes, utf8Bytes } from "../src/index.js";

describe("pooled byte helpers", () => {
  it("utf8Bytes gives a plain Uint8Array of the text's UTF-8, not a Buffer", () => {
    const bytes = utf8Bytes("héllo €");
    expect(Object.getPrototypeOf(bytes)).toBe(Uint8Array.prototype);
    expect(bytes).toEqual(new TextEncoder().encode("héllo €"));
    // a copy made with .slice() is the caller's own: writing it leaves the source alone
    const copy = bytes.slice();
    copy[0] = 0;
    expect(bytes[0]).toBe(0x68);
  });

  it("scratchBytes gives a plain Uint8Array of the length asked, separate from the next one", () => {
    const a = scratchBytes(40);
    const b = scratchBytes(40);
    expect(Object.getPrototypeOf(a)).toBe(Uint8Array.prototype);
    expect(a.length).toBe(40);
    a.fill(1);
    b.fill(2);
    expect(a.every((x) => x === 1)).toBe(true);
  });
});
