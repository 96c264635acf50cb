import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeEnvelope, ProtocolError, resolveLimits } from "../src/index.js";
import {
  checkLinkBatchEntry,
  encodeLinkBatch,
  isLinkBatch,
  MAX_LINK_BATCH_ENTRIES,
  splitLinkBatch,
} from "../src/link-batch.js";
import { envelopeFor, SAMPLE_FRAMES } from "./fixtures.js";

const texts = SAMPLE_FRAMES.map((f) => encodeEnvelope(envelopeFor(f)));
const bytes = (s: string) => Buffer.from(s, "utf8");

function refusal(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ProtocolError) return err;
    throw err;
  }
  throw new Error("not refused");
}

describe("link batch codec", () => {
  it("round-trips every sample frame, keeping each entry's exact bytes", () => {
    const batch = encodeLinkBatch(texts);
    expect(isLinkBatch(batch)).toBe(true);
    expect(isLinkBatch(texts[0]!)).toBe(false);
    const split = splitLinkBatch(bytes(batch));
    expect(split.raws.map((r) => Buffer.from(r).toString("utf8"))).toEqual(texts);
    expect(split.values.map((v) => checkLinkBatchEntry(v))).toEqual(texts.map((t) => JSON.parse(t)));
  });

  it("takes string input and whitespace between entries", () => {
    const split = splitLinkBatch(`[ ${texts[0]} ,\n${texts[1]} ]`);
    expect(split.values).toHaveLength(2);
  });

  it("raws are views into the received buffer, not copies", () => {
    const buf = bytes(encodeLinkBatch(texts.slice(0, 2)));
    const split = splitLinkBatch(buf);
    expect(Buffer.isBuffer(split.raws[0])).toBe(true);
    expect(split.raws[0]!.buffer).toBe(buf.buffer);
  });

  it("checks the size before anything else", () => {
    const lim = resolveLimits({ maxFrameBytes: 4096 });
    const big = `[${"x".repeat(5000)}]`;
    expect(refusal(() => splitLinkBatch(big, lim)).code).toBe("frame_too_large");
    expect(refusal(() => splitLinkBatch(bytes(big), lim)).code).toBe("frame_too_large");
  });

  it("refuses too many entries, counting before parsing", () => {
    const many = encodeLinkBatch(new Array(MAX_LINK_BATCH_ENTRIES + 1).fill(texts[0]!));
    const err = refusal(() => splitLinkBatch(many));
    expect(err.code).toBe("bad_envelope");
    expect(err.message).toMatch(/more than 64 entries/);
    expect(
      splitLinkBatch(encodeLinkBatch(new Array(MAX_LINK_BATCH_ENTRIES).fill(texts[0]!))).raws,
    ).toHaveLength(MAX_LINK_BATCH_ENTRIES);
    expect(refusal(() => splitLinkBatch(encodeLinkBatch([texts[0]!, texts[0]!]), {}, 1)).message).toMatch(
      /more than 1 entries/,
    );
  });

  it.each([
    ["empty", "[]", /not an envelope object/],
    ["nested batch", `[[${texts[0]}]]`, /not an envelope object/],
    ["nested batch after a good entry", `[${texts[0]},[${texts[0]}]]`, /not an envelope object/],
    ["scalar entry", `[${texts[0]},1]`, /not an envelope object/],
    ["unterminated", `[${texts[0]}`, /not terminated/],
    ["unterminated string", '[{"a":"x]', /unterminated string/],
    ["missing comma", `[${texts[0]}${texts[0]}]`, /not separated by commas/],
    ["trailing text", `[${texts[0]}] x`, /text after its end/],
    ["trailing comma", `[${texts[0]},]`, /not an envelope object/],
    ["unbalanced", '[{"a":]}]', /not separated by commas/],
    ["entry not JSON", `[${texts[0]},{"v":1,}]`, /not valid JSON/],
  ])("refuses a malformed batch as a whole: %s", (_name, text, reason) => {
    const err = refusal(() => splitLinkBatch(text));
    expect(err.code).toBe("bad_envelope");
    expect(err.message).toMatch(reason);
  });

  it("refuses invalid UTF-8 as a whole", () => {
    const good = bytes(encodeLinkBatch([texts[0]!, '{"v":"\u00e9"}']));
    const bad = Buffer.from(good);
    bad[bad.indexOf(0xc3)] = 0xff;
    expect(refusal(() => splitLinkBatch(bad)).message).toMatch(/UTF-8/);
  });

  it("refuses nesting deeper than maxDepth inside an entry, even in strings-free brackets", () => {
    const deep = `[${"{".repeat(0)}{"a":${"[".repeat(40)}${"]".repeat(40)}}]`;
    expect(refusal(() => splitLinkBatch(deep)).message).toMatch(/deeper than 32/);
    // brackets inside strings do not count
    const inString = `[{"a":"${"[".repeat(40)}"}]`;
    expect(splitLinkBatch(inString).values).toHaveLength(1);
  });

  it("a bad entry is refused alone by the lone-envelope checks", () => {
    const bad = JSON.stringify({ ...JSON.parse(texts[0]!), sid: "not a sid!" });
    const split = splitLinkBatch(encodeLinkBatch([texts[0]!, bad, texts[1]!]));
    expect(() => checkLinkBatchEntry(split.values[0])).not.toThrow();
    expect(refusal(() => checkLinkBatchEntry(split.values[1])).code).toBe("bad_envelope");
    expect(() => checkLinkBatchEntry(split.values[2])).not.toThrow();
    const unknown = JSON.stringify({ ...JSON.parse(texts[0]!), frame: { type: "Nope" } });
    expect(refusal(() => checkLinkBatchEntry(splitLinkBatch(`[${unknown}]`).values[0])).code).toBe(
      "unknown_frame",
    );
  });

  it("fuzz: any text starting with [ splits or throws ProtocolError, never anything else", () => {
    const piece = fc.oneof(
      fc.constantFrom(...texts),
      fc.constantFrom("[", "]", "{", "}", ",", '"', "\\", " ", "1", "null"),
      fc.string({ maxLength: 20 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (parts) => {
        const text = `[${parts.join("")}`;
        try {
          const split = splitLinkBatch(text);
          for (const v of split.values) {
            try {
              checkLinkBatchEntry(v);
            } catch (err) {
              if (!(err instanceof ProtocolError)) throw err;
            }
          }
          expect(split.raws.length).toBe(split.values.length);
        } catch (err) {
          if (!(err instanceof ProtocolError)) throw err;
          expect(["bad_envelope", "frame_too_large"]).toContain(err.code);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("fuzz: mutating one byte of a valid batch never escapes as a non-ProtocolError", () => {
    const base = bytes(encodeLinkBatch(texts.slice(0, 4)));
    fc.assert(
      fc.property(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 }), (at, byte) => {
        const b = Buffer.from(base);
        b[at] = byte;
        try {
          for (const v of splitLinkBatch(b).values) {
            try {
              checkLinkBatchEntry(v);
            } catch (err) {
              if (!(err instanceof ProtocolError)) throw err;
            }
          }
        } catch (err) {
          if (!(err instanceof ProtocolError)) throw err;
        }
      }),
      { numRuns: 3000 },
    );
  });
});
