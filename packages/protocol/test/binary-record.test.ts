import { ChannelReceiver, ChannelSender, CryptoError, deriveChannelKeys, getBackend } from "@fame/crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  aeadAad,
  BINARY_BATCH_RECORD_TAG,
  BINARY_RECORD_TAG,
  base64urlEncode,
  type DataEnc,
  decodeBinaryRecord,
  decodeEnvelope,
  type Envelope,
  encodeBinaryRecord,
  encodeRecordAsText,
  isBinaryRecord,
  MAX_BATCH_ENTRIES,
  MAX_BINARY_HEADER_BYTES,
  ProtocolError,
  recordBytes,
  setRecordBytes,
} from "../src/index.js";
import { envelopeFor, thrown } from "./fixtures.js";

/** a batch entry: an id of 1..`longest` characters, `more` or not */
const batchEntry = (longest: number) =>
  fc.record(
    {
      corrId: fc.stringMatching(new RegExp(`^[A-Za-z0-9_.:-]{1,${longest}}$`)),
      more: fc.constant(true as const),
    },
    { requiredKeys: ["corrId"] },
  );

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
    const entry = batchEntry(40);
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
      expect(code(() => decodeBinaryRecord(message(JSON.stringify(header()), CT_BYTES, 3)))).toBe(
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

describe("the batch-list form (0x02)", () => {
  const BATCH = [{ corrId: "a" }, { corrId: "b-2.x:y_Z", more: true as const }, { corrId: "c".repeat(128) }];

  /** a 0x02 message built by hand: header, the list as given (count, length bytes, ids), ciphertext */
  function listMessage(
    list: Uint8Array,
    headerValue: unknown = headerOf(record()),
    ct = CT_BYTES,
  ): Uint8Array {
    const h = new TextEncoder().encode(JSON.stringify(headerValue));
    const out = new Uint8Array(5 + h.length + list.length + ct.length);
    out[0] = BINARY_BATCH_RECORD_TAG;
    new DataView(out.buffer).setUint32(1, h.length);
    out.set(h, 5);
    out.set(list, 5 + h.length);
    out.set(ct, 5 + h.length + list.length);
    return out;
  }

  /** the list bytes for `ids` (a leading "+" marks more) */
  function list(ids: string[], count = ids.length): Uint8Array {
    const bytes: number[] = [count >> 8, count & 0xff];
    for (const id of ids) bytes.push((id.replace(/^\+/, "").length - 1) | (id.startsWith("+") ? 0x80 : 0));
    for (const id of ids) for (const c of id.replace(/^\+/, "")) bytes.push(c.charCodeAt(0));
    return new Uint8Array(bytes);
  }

  it("a batched record travels with its list as bytes and decodes to the same envelope", () => {
    const env = record(CT_BYTES, BATCH);
    const wire = encodeBinaryRecord(env, undefined, true);
    expect(wire[0]).toBe(BINARY_BATCH_RECORD_TAG);
    expect(wire.length).toBeLessThan(encodeBinaryRecord(env).length);
    const back = decodeBinaryRecord(wire);
    expect(back).toEqual(env);
    expect(recordBytes(back.frame)).toEqual(CT_BYTES);
    expect(aeadAad(back)).toEqual(aeadAad(env));
    // the header names no list: it follows as bytes
    const h = JSON.parse(
      new TextDecoder().decode(wire.subarray(5, 5 + new DataView(wire.buffer, wire.byteOffset).getUint32(1))),
    );
    expect(h.frame.batch).toBeUndefined();
  });

  it("a single message stays in the 0x01 form", () => {
    expect(encodeBinaryRecord(record(), undefined, true)[0]).toBe(BINARY_RECORD_TAG);
  });

  it("any batch, ciphertext and meta survive the round trip in both forms alike", () => {
    const entry = batchEntry(128);
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 600 }),
        fc.array(entry, { minLength: 2, maxLength: 64 }),
        fc.dictionary(fc.stringMatching(/^[a-z]{1,8}$/), fc.oneof(fc.string(), fc.integer()), { maxKeys: 3 }),
        (ct, batch, meta) => {
          const env = record(ct, batch);
          env.meta = meta;
          const viaBytes = decodeBinaryRecord(encodeBinaryRecord(env, undefined, true));
          expect(viaBytes).toEqual(env);
          expect(viaBytes).toEqual(decodeBinaryRecord(encodeBinaryRecord(env)));
        },
      ),
      { numRuns: 150 },
    );
  });

  it("refuses a list the JSON form would refuse, naming the same field", () => {
    const field = (bytes: Uint8Array): string => thrown(() => decodeBinaryRecord(bytes)).field;
    expect(field(listMessage(list(["a"])))).toBe("frame.batch");
    expect(field(listMessage(list([], 0)))).toBe("frame.batch");
    const tooMany = Array.from({ length: MAX_BATCH_ENTRIES + 1 }, (_, i) => `i${i}`);
    expect(field(listMessage(list(tooMany)))).toBe("frame.batch");
    expect(field(listMessage(list(["a", "b c"])))).toBe("frame.batch[1].corrId");
    expect(field(listMessage(list(["a,b", "c"])))).toBe("frame.batch[0].corrId");
    expect(field(listMessage(list(["ok", "caf\u00e9"])))).toBe("frame.batch[1].corrId");
    // a header that also names a list, or a corrId beside it
    const withList = headerOf(record(CT_BYTES, [{ corrId: "a" }, { corrId: "b" }]));
    expect(field(listMessage(list(["a", "b"]), withList))).toBe("frame.batch");
    const withCorr = { ...headerOf(record()), corrId: "c-1" };
    expect(field(listMessage(list(["a", "b"]), withCorr))).toBe("corrId");
  });

  it("refuses a list that runs past the frame, or leaves less than a tag of ciphertext", () => {
    const ids = list(["abc", "def"]);
    expect(
      thrown(() =>
        decodeBinaryRecord(listMessage(ids, headerOf(record()), new Uint8Array(0)).subarray(0, -3)),
      ).field,
    ).toBe("frame.batch");
    expect(
      thrown(() => decodeBinaryRecord(listMessage(ids, headerOf(record()), new Uint8Array(15)))).field,
    ).toBe("frame.ct");
    // a count with no room for its length bytes
    expect(
      thrown(() =>
        decodeBinaryRecord(listMessage(new Uint8Array([0xff, 0x00]), headerOf(record()), new Uint8Array(16))),
      ).field,
    ).toBe("frame.batch");
  });

  it("encode refuses an entry a peer would refuse", () => {
    const refused = (batch: { corrId: string; more?: boolean }[], corrId?: string): string => {
      const env = record(CT_BYTES, batch as { corrId: string; more?: true }[]);
      if (corrId !== undefined) env.corrId = corrId;
      return thrown(() => encodeBinaryRecord(env, undefined, true)).field;
    };
    expect(refused([{ corrId: "a" }, { corrId: "b c" }])).toBe("frame.batch[1].corrId");
    expect(refused([{ corrId: "a" }, { corrId: "é" }])).toBe("frame.batch[1].corrId");
    expect(refused([{ corrId: "" }, { corrId: "b" }])).toBe("frame.batch[0].corrId");
    expect(refused([{ corrId: "a" }, { corrId: "x".repeat(129) }])).toBe("frame.batch[1].corrId");
    expect(refused([{ corrId: "a", more: false }, { corrId: "b" }])).toBe("frame.batch[0].more");
    expect(refused([{ corrId: "a" }])).toBe("frame.batch");
    expect(refused([{ corrId: "a" }, { corrId: "b" }], "c-1")).toBe("corrId");
  });

  it("fuzz: mutated and cut 0x02 records only ever raise ProtocolError", () => {
    const valid = encodeBinaryRecord(record(new Uint8Array(64).fill(1), BATCH), undefined, true);
    fc.assert(
      fc.property(
        fc.oneof(
          fc
            .array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 })
            .map((edits) => {
              const m = valid.slice();
              for (const [i, b] of edits) m[i] = b;
              return m;
            }),
          fc.nat(valid.length).map((n) => valid.slice(0, n)),
          fc.uint8Array({ maxLength: 300 }).map((tail) => {
            const m = new Uint8Array(valid.length + tail.length);
            m.set(valid.subarray(0, valid.length - 64));
            m.set(tail, valid.length - 64);
            return m;
          }),
        ),
        (bytes) => {
          try {
            const env = decodeBinaryRecord(bytes);
            // whatever decodes is a valid envelope: its text form passes the JSON decoder
            expect(decodeEnvelope(encodeRecordAsText(env)).frame.type).toBe("Data");
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

  function sealedWire(batch?: { corrId: string; more?: true }[], batchList = false): Uint8Array {
    const env = record(CT_BYTES, batch);
    const sender = new ChannelSender({ keys, role: "client", backend });
    const r = sender.seal(new TextEncoder().encode('{"x":1}'), aeadAad(env));
    env.sec!.enc = { ...env.sec!.enc!, seq: r.seq, kid: r.kid, ac: r.aadCheck };
    setRecordBytes(env.frame as DataEnc, r.ct);
    return encodeBinaryRecord(env, undefined, batchList);
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

  it("a changed list in the 0x02 form fails to open, and so does a changed more flag", () => {
    const batch = [{ corrId: "a1" }, { corrId: "b1", more: true as const }];
    const wire = sealedWire(batch, true);
    expect(open(wire)).toBe('{"x":1}');
    expect(() => open(flipped(wire, "b1"))).toThrow(CryptoError);
    const text = Buffer.from(wire).toString("latin1");
    // the length bytes sit right before the ids "a1b1": clear the second one's more bit
    const at = text.indexOf("a1b1") - 1;
    const m = wire.slice();
    m[at] = m[at]! & 0x7f;
    expect(() => open(m)).toThrow(CryptoError);
  });
});
