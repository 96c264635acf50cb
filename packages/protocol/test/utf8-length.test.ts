import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { utf8Length } from "../src/index.js";

describe("utf8Length", () => {
  it("agrees with node's Buffer.byteLength (which the frame size check uses when present), lone surrogates included", () => {
    const unit = fc.oneof(
      fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
      fc.constantFrom("\uD800", "\uDC00", "\uD83D\uDE00", "é", "€"),
    );
    fc.assert(
      fc.property(fc.array(unit, { maxLength: 200 }), (parts) => {
        const s = parts.join("");
        expect(utf8Length(s)).toBe(Buffer.byteLength(s, "utf8"));
      }),
      { numRuns: 500 },
    );
  });
});
