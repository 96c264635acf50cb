import { ChannelReceiver, ChannelSender, CryptoError, deriveChannelKeys, getBackend } from "@fame/crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  aeadAad,
  BINARY_RECORD_TAG,
  base64urlEncode,
  type DataEnc,
  decodeBinaryRecord,
  decodeEnvelope,
  type Envelope,
  encodeBinaryRecord,
  encodeRecordAsText,
  isBinaryRecord,
  MAX_BINARY_HEADER_BYTES,
  ProtocolError,
  recordBytes,
  setRecordBytes,
} from "../src/index.js";
import { envelopeFor, thrown } from "./fixtures.js";

const CT_BYTES = new Uint8Array(300).map((_, i) => (i * 7) & 0xff);

/** a sealed Data envelope holding `ct` as bytes (unsigned, as channel data travels) */
function record(ct: Uint8Array = CT_BYTES, batch?: { corrId: string; more?: true }[]): Envelope {
  const frame: DataEnc = { type: "Data", codec: "enc", ct: "", ...(batch ? { batch } : {}) };
  const env = envelopeFor({ type: "Data", codec: "enc", ct: "x" });
  env.frame = frame;
  delete env.sec!.sig;
  if (batch) delete env.corrId;
  setRecordBytes(frame, ct);
  return env;
}

/** a binary message built by hand: tag, header length, header text, ciphertext */
function message(
  header: string | Uint8Array,
  ct: Uint8Array = CT_BYTES,
  tag = BINARY_RECORD_TAG,
): Uint8Array {
  const h = typeof header === "string" ? new TextEncoder().encode(header) : header;
  const out = new Uint8Array(5 + h.length + ct.length);
  out[0] = tag;
  new DataView(out.buffer).setUint32(1, h.length);
  out.set(h, 5);
  out.set(ct, 5 + h.length);
  return out;
}

function headerOf(env: Envelope): Record<string, unknown> {
  const text = encodeRecordAsText(env);
  const o = JSON.parse(text) as { frame: Record<string, unknown> };
  delete o.frame["ct"];
  return o;
}

const code = (run: () => unknown): string => thrown(run).code;

describe("binary sealed records", () => {
  it("round trip: the decoded envelope equals the sent one, ciphertext bytes included", () => {
    for (const env of [record(), record(CT_BYTES, [{ corrId: "a" }, { corrId: "b", more: true }])]) {
      const wire = encodeBinaryRecord(env);
      expect(wire[0]).toBe(BINARY_RECORD_TAG);
      const back = decodeBinaryRecord(wire);
      expect(isBinaryRecord(back)).toBe(true);
      expect(recordBytes(back.frame)).toEqual(CT_BYTES);
      expect(back).toEqual(env);
      expect(aeadAad(back)).toEqual(aeadAad(env));
    }
  });

  it("the text form of a binary record is the JSON form with the ciphertext in base64url", () => {
    const env = record();
    const text = encodeRecordAsText(env);
    const fromText = decodeEnvelope(text);
    expect((fromText.frame as DataEnc).ct).toBe(base64urlEncode(CT_BYTES));
    // the envelope is left holding its bytes
    expect(isBinaryRecord(env)).toBe(true);
    expect(aeadAad(fromText)).toEqual(aeadAad(env));
  });

  it("any ciphertext, batch and meta survive the round trip", () => {
    const entry = fc.record(
      { corrId: fc.stringMatching(/^[A-Za-z0-9_.:-]{1,40}$/), more: fc.constant(true as const) },
      { requiredKeys: ["corrId"] },
    );
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 2000 }),
        fc.option(fc.array(entry, { minLength: 2, maxLength: 40 }), { nil: undefined }),
        // (a `__proto__` key is refused in either form: see the refusal tests)
        fc.dictionary(
          fc.stringMatching(/^[A-Za-z0-9_]{1,12}$/).filter((k) => k !== "__proto__"),
          fc.oneof(fc.string(), fc.integer()),
          {
            maxKeys: 4,
          },
        ),
        (ct, batch, meta) => {
          const env = record(ct, batch);
          env.meta = meta;
          const back = decodeBinaryRecord(encodeBinaryRecord(env));
          expect(back).toEqual(env);
          expect(recordBytes(back.frame)).toEqual(ct);
        },
      ),
      { numRuns: 150 },
    );
  });

  describe("refusals (typed, before or instead of parsing)", () => {
    const header = () => headerOf(record());

    it("frame_too_large when the message exceeds maxFrameBytes, before anything is read", () => {
      const wire = encodeBinaryRecord(record(new Uint8Array(4000)));
      const err = thrown(() => decodeBinaryRecord(wire, { maxFrameBytes: 2048 }));
      expect(err.code).toBe("frame_too_large");
      expect(err.message).toContain("FAME_MAX_FRAME_BYTES");
      expect(code(() => encodeBinaryRecord(record(new Uint8Array(4000)), { maxFrameBytes: 2048 }))).toBe(
        "frame_too_large",
      );
    });

    it("bad_envelope for a short prefix, an unknown tag, or a header bound broken", () => {
      expect(code(() => decodeBinaryRecord(new Uint8Array([1, 0, 0])))).toBe("bad_envelope");
      expect(code(() => decodeBinaryRecord(message(JSON.stringify(header()), CT_BYTES, 2)))).toBe(
        "bad_envelope",
      );
      const huge = message(JSON.stringify(header()));
      new DataView(huge.buffer).setUint32(1, MAX_BINARY_HEADER_BYTES + 1);
      expect(thrown(() => decodeBinaryRecord(huge)).field).toBe("header");
      const beyond = message(JSON.stringify(header()));
      new DataView(beyond.buffer).setUint32(1, beyond.length);
      expect(thrown(() => decodeBinaryRecord(beyond)).message).toContain("beyond");
      const maxLen = message(JSON.stringify(header()));
      new DataView(maxLen.buffer).setUint32(1, 0xffffffff);
      expect(code(() => decodeBinaryRecord(maxLen))).toBe("bad_envelope");
    });

    it("bad_envelope for a ciphertext shorter than the tag", () => {
      expect(
        thrown(() => decodeBinaryRecord(message(JSON.stringify(header()), new Uint8Array(15)))).field,
      ).toBe("frame.ct");
    });

    it("bad_envelope for a header that is not UTF-8, too deep, not JSON or not an object", () => {
      expect(code(() => decodeBinaryRecord(message(new Uint8Array([0x7b, 0xff, 0x7d]))))).toBe(
        "bad_envelope",
      );
      expect(code(() => decodeBinaryRecord(message("[".repeat(100_00))))).toBe("bad_envelope");
      expect(code(() => decodeBinaryRecord(message("{not json")))).toBe("bad_envelope");
      expect(code(() => decodeBinaryRecord(message("[1,2]")))).toBe("bad_envelope");
      expect(code(() => decodeBinaryRecord(message("null")))).toBe("bad_envelope");
    });

    it("bad_envelope for anything but unsigned sealed Data, or a ct inside the header", () => {
      const plain = { ...header(), frame: { type: "Data", codec: "json", payload: 1 } };
      expect(thrown(() => decodeBinaryRecord(message(JSON.stringify(plain)))).field).toBe("frame");
      const noFrame = { ...header(), frame: undefined };
      expect(thrown(() => decodeBinaryRecord(message(JSON.stringify(noFrame)))).field).toBe("frame");
      const h = header() as { frame: Record<string, unknown>; sec: Record<string, unknown> };
      h.frame["ct"] = "AAAAAAAAAAAAAAAAAAAAAA";
      expect(thrown(() => decodeBinaryRecord(message(JSON.stringify(h)))).field).toBe("frame.ct");
      const signed = header() as { sec: Record<string, unknown> };
      signed.sec["sig"] = { alg: "EdDSA", kid: "k1", val: "x" };
      expect(thrown(() => decodeBinaryRecord(message(JSON.stringify(signed)))).field).toBe("sec.sig");
    });

    it("the full envelope validation applies to the header (unknown members, bad ids, missing enc)", () => {
      const extra = { ...header(), extra: 1 };
      expect(code(() => decodeBinaryRecord(message(JSON.stringify(extra))))).toBe("bad_envelope");
      const badId = { ...header(), id: "has space" };
      expect(thrown(() => decodeBinaryRecord(message(JSON.stringify(badId)))).field).toBe("id");
      const noEnc = { ...header(), sec: undefined };
      expect(thrown(() => decodeBinaryRecord(message(JSON.stringify(noEnc)))).field).toBe("sec.enc");
      const proto = JSON.stringify(header()).replace('"v":1', '"__proto__":{"x":1},"v":1');
      expect(code(() => decodeBinaryRecord(message(proto)))).toBe("bad_envelope");
    });

    it("encode refuses what has no bytes to send, a signature, or a header over the bound", () => {
      const text = envelopeFor({ type: "Data", codec: "enc", ct: "AAAAAAAAAAAAAAAAAAAAAA" });
      expect(code(() => encodeBinaryRecord(text))).toBe("bad_envelope");
      const signed = record();
      signed.sec!.sig = { alg: "EdDSA", kid: "k1", val: base64urlEncode(new Uint8Array(64)) };
      expect(thrown(() => encodeBinaryRecord(signed)).field).toBe("sec.sig");
      const big = record();
      big.meta = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${i}`, "y".repeat(2000)]));
      expect(thrown(() => encodeBinaryRecord(big)).field).toBe("header");
      const badId = record();
      badId.id = "no spaces";
      expect(thrown(() => encodeBinaryRecord(badId)).field).toBe("id");
      expect(isBinaryRecord(badId)).toBe(true);
    });
  });

  it("fuzz: random bytes and mutated records only ever raise ProtocolError", () => {
    const valid = encodeBinaryRecord(record(new Uint8Array(64).fill(1)));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 400 }),
          fc
            .array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 })
            .map((edits) => {
              const m = valid.slice();
              for (const [i, b] of edits) m[i] = b;
              return m;
            }),
          fc.nat(valid.length).map((n) => valid.slice(0, n)),
        ),
        (bytes) => {
          try {
            decodeBinaryRecord(bytes);
          } catch (err) {
            expect(err).toBeInstanceOf(ProtocolError);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe("the header stays authenticated (AEAD additional data)", () => {
  const backend = getBackend("native");
  const keys = deriveChannelKeys({
    backend,
    sharedSecret: new Uint8Array(32).fill(5),
    clientEphPub: new Uint8Array(32).fill(1),
    replicaEphPub: new Uint8Array(32).fill(2),
    cid: "c-1",
    clientSid: "5hK2aZ",
    replicaSid: "9xY",
  });

  function sealedWire(batch?: { corrId: string; more?: true }[]): Uint8Array {
    const env = record(CT_BYTES, batch);
    const sender = new ChannelSender({ keys, role: "client", backend });
    const r = sender.seal(new TextEncoder().encode('{"x":1}'), aeadAad(env));
    env.sec!.enc = { ...env.sec!.enc!, seq: r.seq, kid: r.kid, ac: r.aadCheck };
    setRecordBytes(env.frame as DataEnc, r.ct);
    return encodeBinaryRecord(env);
  }

  function open(wire: Uint8Array): string {
    const env = decodeBinaryRecord(wire);
    const enc = env.sec!.enc!;
    const receiver = new ChannelReceiver({ keys, role: "replica", backend });
    const pt = receiver.open(
      { seq: enc.seq, kid: enc.kid, aadCheck: enc.ac, ct: recordBytes(env.frame)! },
      aeadAad(env),
    );
    return new TextDecoder().decode(pt);
  }

  /** flips one character of `value` inside the header to another valid one */
  function flipped(wire: Uint8Array, value: string): Uint8Array {
    const text = Buffer.from(wire).toString("latin1");
    const at = text.indexOf(value);
    expect(at).toBeGreaterThan(0);
    const m = wire.slice();
    m[at] = m[at] === 0x31 ? 0x32 : 0x31; // "1" ↔ "2" (or anything → "1")
    return m;
  }

  it("opens as sent", () => {
    expect(open(sealedWire())).toBe('{"x":1}');
    expect(open(sealedWire([{ corrId: "a" }, { corrId: "b", more: true }]))).toBe('{"x":1}');
  });

  it("a flipped byte in any bound header member fails to open", () => {
    const wire = sealedWire();
    for (const member of ['"corr-1"', '"env-1"', "1700000000000", '"math@fame.fabric"', '"5hK2aZ"']) {
      const bad = flipped(wire, member.startsWith('"') ? member.slice(1) : member);
      const err = (() => {
        try {
          open(bad);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err, member).toBeInstanceOf(CryptoError);
    }
  });

  it("a changed batch list fails to open", () => {
    const wire = sealedWire([{ corrId: "a1" }, { corrId: "b1", more: true }]);
    expect(() => open(flipped(wire, "b1"))).toThrow(CryptoError);
  });
});
