import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJsonBytes, type Envelope, immutableHeaders } from "../src/index.js";

/** the definition: canonical JSON of exactly these members */
function reference(e: Record<string, unknown>): string {
  try {
    const { v, id, sid, to, replyTo, corrId, ts } = e;
    return new TextDecoder().decode(canonicalJsonBytes({ v, id, sid, to, replyTo, corrId, ts }));
  } catch (err) {
    return `throws ${(err as Error).name}`;
  }
}

function actual(e: Record<string, unknown>): string {
  try {
    return new TextDecoder().decode(immutableHeaders(e as unknown as Envelope));
  } catch (err) {
    return `throws ${(err as Error).name}`;
  }
}

const text = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9_.:@/-]{0,40}$/),
  fc.string(),
  fc.string({ unit: "binary" }),
  fc.constantFrom('a"b', "a\\b", "tab\there", "é", "\u2028", "\ud800"),
);
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
const number = fc.oneof(fc.maxSafeInteger(), fc.integer(), fc.double(), fc.constant(-0));

describe("immutableHeaders", () => {
  it("writes exactly the canonical JSON of the immutable headers", () => {
    fc.assert(
      fc.property(
        fc.record({
          v: fc.oneof(fc.constant(1), number),
          id: text,
          sid: text,
          to: maybe(text),
          replyTo: maybe(text),
          corrId: maybe(text),
          ts: number,
          meta: maybe(fc.dictionary(fc.string(), fc.string())),
        }),
        (e) => {
          expect(actual(e)).toBe(reference(e));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("covers a typical envelope's headers, members sorted and absent ones left out", () => {
    const e = {
      v: 1,
      id: "i1",
      sid: "S1",
      to: "math@fame.fabric",
      ts: 5,
      ttlMs: 9,
      frame: { type: "Heartbeat" },
    };
    expect(actual(e)).toBe('{"id":"i1","sid":"S1","to":"math@fame.fabric","ts":5,"v":1}');
  });
});
