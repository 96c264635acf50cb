import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  base64urlEncode,
  decodeEnvelope,
  type Envelope,
  encodeEnvelope,
  encodeEnvelopeWithPayload,
  encodeSealedEnvelope,
  type JsonValue,
} from "../src/index.js";
import { CT, envelopeFor, thrown } from "./fixtures.js";

function sealed(ct = CT, batch?: { corrId: string; more?: true }[]): Envelope {
  const env = envelopeFor({ type: "Data", codec: "enc", ct, ...(batch ? { batch } : {}) });
  if (batch) delete env.corrId;
  return env;
}

const codeOf = (run: () => unknown): string => thrown(run).code;

describe("encodeSealedEnvelope", () => {
  it("writes the same envelope as encodeEnvelope (only member order differs)", () => {
    for (const env of [sealed(), sealed(CT, [{ corrId: "a" }, { corrId: "b", more: true }])]) {
      const fast = encodeSealedEnvelope(env);
      expect(JSON.parse(fast)).toEqual(JSON.parse(encodeEnvelope(env)));
      expect(decodeEnvelope(fast)).toEqual(env);
    }
  });

  it("agrees with encodeEnvelope for any ciphertext, batch and meta", () => {
    const entry = fc.record(
      { corrId: fc.stringMatching(/^[A-Za-z0-9_.:-]{1,40}$/), more: fc.constant(true as const) },
      { requiredKeys: ["corrId"] },
    );
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 600 }),
        fc.option(fc.array(entry, { minLength: 2, maxLength: 40 }), { nil: undefined }),
        fc.dictionary(fc.string({ maxLength: 12 }), fc.oneof(fc.string(), fc.integer(), fc.boolean()), {
          maxKeys: 4,
        }),
        (bytes, batch, meta) => {
          const env = sealed(base64urlEncode(bytes), batch);
          env.meta = meta;
          let expected: unknown;
          try {
            expected = JSON.parse(encodeEnvelope(env));
          } catch {
            // invalid meta: both refuse it, with the same code
            expect(codeOf(() => encodeSealedEnvelope(env))).toBe(codeOf(() => encodeEnvelope(env)));
            return;
          }
          expect(JSON.parse(encodeSealedEnvelope(env))).toEqual(expected);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("refuses what encodeEnvelope refuses, and leaves the envelope as it was", () => {
    const env = sealed();
    env.to = "not an address";
    expect(codeOf(() => encodeSealedEnvelope(env))).toBe(codeOf(() => encodeEnvelope(env)));
    expect(env.frame).toEqual({ type: "Data", codec: "enc", ct: CT });
    const plain = envelopeFor({ type: "Data", codec: "json", payload: { a: 1 } });
    expect(codeOf(() => encodeSealedEnvelope(plain))).toBe("bad_envelope");
  });

  it("checks the encoded size, ciphertext included", () => {
    const big = sealed(base64urlEncode(new Uint8Array(3000)));
    expect(codeOf(() => encodeSealedEnvelope(big, { maxFrameBytes: 2048 }))).toBe("frame_too_large");
    expect(codeOf(() => encodeEnvelope(big, { maxFrameBytes: 2048 }))).toBe("frame_too_large");
    expect(encodeSealedEnvelope(big, { maxFrameBytes: 8192 }).length).toBeLessThanOrEqual(8192);
  });
});

describe("encodeEnvelopeWithPayload", () => {
  const clear = (payload: JsonValue, batch?: { corrId: string }[]): Envelope => {
    const env = envelopeFor({ type: "Data", codec: "json", payload, ...(batch ? { batch } : {}) });
    if (batch) delete env.corrId;
    return env;
  };

  it("writes the same envelope as encodeEnvelope, for any payload", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<JsonValue>, (payload) => {
        const env = clear(payload);
        let expected: string;
        try {
          expected = encodeEnvelope(env);
        } catch {
          // a payload validation refuses (a "__proto__" key, …): both refuse it, with the same code
          const refusal = thrown(() => encodeEnvelope(env));
          const ours = thrown(() => encodeEnvelopeWithPayload(env, JSON.stringify(payload)));
          expect([ours.code, ours.field]).toEqual([refusal.code, refusal.field]);
          return;
        }
        const text = encodeEnvelopeWithPayload(env, JSON.stringify(payload));
        expect(JSON.parse(text)).toEqual(JSON.parse(expected));
        expect(decodeEnvelope(text)).toEqual(decodeEnvelope(expected));
      }),
      { numRuns: 200 },
    );
    const forbidden = clear(JSON.parse('[{"__proto__":{}}]') as JsonValue);
    expect(thrown(() => encodeEnvelopeWithPayload(forbidden, '[{"__proto__":{}}]')).field).toBe(
      thrown(() => encodeEnvelope(forbidden)).field,
    );
    const batch = clear([{ a: 1 }, "two"], [{ corrId: "a" }, { corrId: "b" }]);
    expect(decodeEnvelope(encodeEnvelopeWithPayload(batch, '[{"a":1},"two"]'))).toEqual(batch);
  });

  it("validates the payload it does not serialize, and the size of what it writes", () => {
    // a lone surrogate: refused here as encodeEnvelope refuses it, whatever the text says
    expect(codeOf(() => encodeEnvelopeWithPayload(clear("\ud800"), '"x"'))).toBe("bad_envelope");
    expect(
      codeOf(() => encodeEnvelopeWithPayload(clear("x"), `"${"y".repeat(3000)}"`, { maxFrameBytes: 2048 })),
    ).toBe("frame_too_large");
    expect(codeOf(() => encodeEnvelopeWithPayload(sealed(), "1"))).toBe("bad_envelope");
  });
});
