import { afterEach, describe, expect, it, vi } from "vitest";
import {
  base64urlEncode,
  decodeEnvelope,
  type Envelope,
  encodeEnvelope,
  type Limits,
  ProtocolError,
  type ProtocolErrorCode,
  validateEnvelope,
} from "../src/index.js";
import { B32, baseData, CT, edKey, envelopeFor, thrown } from "./fixtures.js";

type Json = Record<string, unknown>;

function withBase(change: (env: Json, frame: Json) => void): string {
  const env = baseData();
  change(env, env.frame as Json);
  return JSON.stringify(env);
}

function withFrame(frame: Json, change?: (env: Json) => void): string {
  const env = baseData();
  env.frame = frame;
  change?.(env);
  return JSON.stringify(env);
}

function expectError(
  input: string | Uint8Array,
  code: ProtocolErrorCode,
  field: string,
  limits?: Partial<Limits>,
): void {
  const err = thrown(() => decodeEnvelope(input, limits));
  expect({ code: err.code, field: err.field }).toEqual({ code, field });
}

// 32 zero bytes are "A" x 43; a final "B" sets one of the two unused low bits.
const dirtyB32 = `${"A".repeat(42)}B`;

interface Case {
  name: string;
  input: () => string | Uint8Array;
  code: ProtocolErrorCode;
  field: string;
  limits?: Partial<Limits>;
}

const cases: Case[] = [
  { name: "not JSON", input: () => "{nope", code: "bad_envelope", field: "" },
  { name: "empty input", input: () => "", code: "bad_envelope", field: "" },
  { name: "top-level array", input: () => "[]", code: "bad_envelope", field: "" },
  { name: "top-level string", input: () => '"hi"', code: "bad_envelope", field: "" },
  { name: "top-level null", input: () => "null", code: "bad_envelope", field: "" },
  { name: "missing v", input: () => withBase((e) => delete e.v), code: "bad_envelope", field: "v" },
  { name: "v = 2", input: () => withBase((e) => (e.v = 2)), code: "bad_envelope", field: "v" },
  { name: 'v = "1"', input: () => withBase((e) => (e.v = "1")), code: "bad_envelope", field: "v" },
  {
    name: "missing frame",
    input: () => withBase((e) => delete e.frame),
    code: "bad_envelope",
    field: "frame",
  },
  {
    name: "frame is array",
    input: () => withBase((e) => (e.frame = [])),
    code: "bad_envelope",
    field: "frame",
  },
  {
    name: "unknown frame type",
    input: () => withFrame({ type: "Teleport" }),
    code: "unknown_frame",
    field: "frame.type",
  },
  {
    name: "frame type from Object.prototype",
    input: () => withFrame({ type: "constructor" }),
    code: "unknown_frame",
    field: "frame.type",
  },
  {
    name: "frame type number",
    input: () => withFrame({ type: 7 }),
    code: "bad_envelope",
    field: "frame.type",
  },
  { name: "id is a number", input: () => withBase((e) => (e.id = 5)), code: "bad_envelope", field: "id" },
  { name: "id with space", input: () => withBase((e) => (e.id = "a b")), code: "bad_envelope", field: "id" },
  { name: "missing sid", input: () => withBase((e) => delete e.sid), code: "bad_envelope", field: "sid" },
  { name: "non-integer ts", input: () => withBase((e) => (e.ts = 1.5)), code: "bad_envelope", field: "ts" },
  { name: "negative ts", input: () => withBase((e) => (e.ts = -1)), code: "bad_envelope", field: "ts" },
  { name: "ts as string", input: () => withBase((e) => (e.ts = "1")), code: "bad_envelope", field: "ts" },
  { name: "ttlMs = 0", input: () => withBase((e) => (e.ttlMs = 0)), code: "bad_envelope", field: "ttlMs" },
  {
    name: "extra envelope field",
    input: () => withBase((e) => (e.extra = 1)),
    code: "bad_envelope",
    field: "extra",
  },
  {
    // audit round 9: the field path is logged and answered; bidi and line separators are escaped
    name: "extra envelope field with bidi and line separators in its name",
    input: () => withBase((e) => (e["x\u202ey\u2028"] = 1)),
    code: "bad_envelope",
    field: '["x\\u202ey\\u2028"]',
  },
  {
    name: "extra frame field",
    input: () => withBase((_, f) => (f.extra = 1)),
    code: "bad_envelope",
    field: "frame.extra",
  },
  {
    name: "__proto__ key on envelope",
    input: () => JSON.stringify(baseData()).replace(/^\{/, '{"__proto__":{"polluted":1},'),
    code: "bad_envelope",
    field: "__proto__",
  },
  {
    name: "__proto__ key in meta",
    input: () => JSON.stringify(baseData()).replace(/^\{/, '{"meta":{"__proto__":"x"},'),
    code: "bad_envelope",
    field: "meta.__proto__",
  },
  {
    name: "__proto__ key in payload",
    input: () =>
      withFrame({ type: "Data", codec: "json", payload: {} }).replace(
        '"payload":{}',
        '"payload":{"__proto__":{}}',
      ),
    code: "bad_envelope",
    field: "frame.payload.__proto__",
  },
  {
    name: "uppercase logical in address",
    input: () => withBase((e) => (e.to = "math@Fame.Fabric")),
    code: "bad_envelope",
    field: "to",
  },
  {
    name: "address without @",
    input: () => withBase((e) => (e.to = "math")),
    code: "bad_envelope",
    field: "to",
  },
  {
    name: "wildcard in address",
    input: () => withBase((e) => (e.replyTo = "x@*.fame.fabric")),
    code: "bad_envelope",
    field: "replyTo",
  },
  {
    name: "physical address with 9 segments",
    input: () => withFrame({ type: "AddressBind", address: `x@${"/a".repeat(9)}` }),
    code: "bad_envelope",
    field: "frame.address",
  },
  {
    name: "padded base64url signature",
    input: () => withBase((e) => (e.sec = { sig: { alg: "EdDSA", kid: "k", val: `${"A".repeat(86)}==` } })),
    code: "bad_envelope",
    field: "sec.sig.val",
  },
  {
    name: "base64url with bad alphabet",
    input: () =>
      withFrame({ type: "SecureOpen", cid: "c", ephPub: `${B32.slice(0, -2)}+/`, alg: "CHACHA20P1305" }),
    code: "bad_envelope",
    field: "frame.ephPub",
  },
  {
    name: "base64url with dirty trailing bits",
    input: () => withFrame({ type: "SecureOpen", cid: "c", ephPub: dirtyB32, alg: "CHACHA20P1305" }),
    code: "bad_envelope",
    field: "frame.ephPub",
  },
  {
    name: "ephPub of 31 bytes",
    input: () =>
      withFrame({
        type: "SecureOpen",
        cid: "c",
        ephPub: base64urlEncode(new Uint8Array(31)),
        alg: "CHACHA20P1305",
      }),
    code: "bad_envelope",
    field: "frame.ephPub",
  },
  {
    name: "too deep payload nesting",
    input: () =>
      withFrame({ type: "Data", codec: "json", payload: JSON.parse(`${"[".repeat(40)}${"]".repeat(40)}`) }),
    code: "bad_envelope",
    field: "",
  },
  {
    name: "huge meta string",
    input: () => withBase((e) => (e.meta = { trace: "x".repeat(64 * 1024 + 1) })),
    code: "bad_envelope",
    field: "meta.trace",
  },
  {
    name: "huge reason",
    input: () => withFrame({ type: "SecureClose", cid: "c", reason: "r".repeat(70_000) }),
    code: "bad_envelope",
    field: "frame.reason",
  },
  {
    name: "lone surrogate in reason",
    input: () => withFrame({ type: "SecureClose", cid: "c", reason: "X" }).replace('"X"', '"\\ud800"'),
    code: "bad_envelope",
    field: "frame.reason",
  },
  {
    name: "attachTicket over 8 KiB",
    input: () =>
      withFrame({
        type: "NodeAttach",
        systemId: "s",
        instanceId: "i",
        attachTicket: "t".repeat(8193),
        logicals: [],
        keys: [],
      }),
    code: "bad_envelope",
    field: "frame.attachTicket",
  },
  {
    name: "aft not a compact JWS",
    input: () => withBase((e) => (e.aft = "not-a-jws")),
    code: "bad_envelope",
    field: "aft",
  },
  {
    name: "oversize frame (invalid JSON, so size must be checked first)",
    input: () => `{${"x".repeat(1024 * 1024)}`,
    code: "frame_too_large",
    field: "",
  },
  {
    name: "oversize byte input",
    input: () => new Uint8Array(1024 * 1024 + 1).fill(0x20),
    code: "frame_too_large",
    field: "",
  },
  {
    name: "multi-byte characters count as UTF-8 bytes",
    input: () => withBase((e) => (e.meta = { s: "€".repeat(40) })),
    limits: { maxFrameBytes: 200 },
    code: "frame_too_large",
    field: "",
  },
  {
    name: "negative channel seq",
    input: () =>
      withFrame({ type: "Data", codec: "enc", ct: CT }, (e) => {
        e.sec = { enc: { alg: "chacha20-poly1305-channel", cid: "c", seq: -1, kid: "k", ac: B32 } };
      }),
    code: "bad_envelope",
    field: "sec.enc.seq",
  },
  {
    name: "channel seq 0",
    input: () =>
      withFrame({ type: "Data", codec: "enc", ct: CT }, (e) => {
        e.sec = { enc: { alg: "chacha20-poly1305-channel", cid: "c", seq: 0, kid: "k", ac: B32 } };
      }),
    code: "bad_envelope",
    field: "sec.enc.seq",
  },
  {
    name: "Data with payload and ct",
    input: () => withFrame({ type: "Data", codec: "json", payload: 1, ct: CT }),
    code: "bad_envelope",
    field: "frame.ct",
  },
  {
    name: "Data enc with payload",
    input: () => withFrame({ type: "Data", codec: "enc", payload: 1, ct: CT }),
    code: "bad_envelope",
    field: "frame.payload",
  },
  {
    name: "Data json without payload",
    input: () => withFrame({ type: "Data", codec: "json" }),
    code: "bad_envelope",
    field: "frame.payload",
  },
  {
    name: "Data with unknown codec",
    input: () => withFrame({ type: "Data", codec: "xml", payload: 1 }),
    code: "bad_envelope",
    field: "frame.codec",
  },
  {
    name: "Data enc without sec.enc",
    input: () => withFrame({ type: "Data", codec: "enc", ct: CT }),
    code: "bad_envelope",
    field: "sec.enc",
  },
  {
    name: "sec.enc on a non-Data frame",
    input: () =>
      withFrame({ type: "Heartbeat" }, (e) => {
        e.sec = { enc: { alg: "chacha20-poly1305-channel", cid: "c", seq: 1, kid: "k", ac: B32 } };
      }),
    code: "bad_envelope",
    field: "sec.enc",
  },
  { name: "empty sec", input: () => withBase((e) => (e.sec = {})), code: "bad_envelope", field: "sec" },
  {
    name: "payload number overflowing to Infinity",
    input: () => withFrame({ type: "Data", codec: "json", payload: { n: 1 } }).replace('"n":1', '"n":1e400'),
    code: "bad_envelope",
    field: "frame.payload.n",
  },
  {
    name: "DeliveryAck ok:false without code",
    input: () => withFrame({ type: "DeliveryAck", ok: false, refId: "r" }),
    code: "bad_envelope",
    field: "frame.code",
  },
  {
    name: "unknown error code",
    input: () => withFrame({ type: "DeliveryAck", ok: false, refId: "r", code: "toString" }),
    code: "bad_envelope",
    field: "frame.code",
  },
  {
    name: "ok as string",
    input: () => withFrame({ type: "DeliveryAck", ok: "true", refId: "r" }),
    code: "bad_envelope",
    field: "frame.ok",
  },
  {
    name: "too many keys",
    input: () => withFrame({ type: "KeyAnnounce", keys: Array.from({ length: 17 }, () => edKey) }),
    code: "bad_envelope",
    field: "frame.keys",
  },
  {
    name: "Jwk with unknown curve",
    input: () => withFrame({ type: "KeyAnnounce", keys: [{ ...edKey, crv: "P-256" }] }),
    code: "bad_envelope",
    field: "frame.keys[0].crv",
  },
  {
    name: "Jwk with extra member",
    input: () => withFrame({ type: "KeyAnnounce", keys: [edKey, { ...edKey, d: B32 }] }),
    code: "bad_envelope",
    field: "frame.keys[1].d",
  },
  {
    name: "x5c with 6 certificates",
    input: () => withFrame({ type: "KeyAnnounce", keys: [{ ...edKey, x5c: Array(6).fill("AAAA") }] }),
    code: "bad_envelope",
    field: "frame.keys[0].x5c",
  },
  {
    name: "x5c entry not base64",
    input: () => withFrame({ type: "KeyAnnounce", keys: [{ ...edKey, x5c: ["AAAA", "A-_A"] }] }),
    code: "bad_envelope",
    field: "frame.keys[0].x5c[1]",
  },
  {
    name: "too many logicals",
    input: () =>
      withFrame({
        type: "NodeAttach",
        systemId: "s",
        instanceId: "i",
        logicals: Array(65).fill("a.b"),
        keys: [],
      }),
    code: "bad_envelope",
    field: "frame.logicals",
  },
  {
    name: "bad logical in list",
    input: () =>
      withFrame({ type: "NodeAttach", systemId: "s", instanceId: "i", logicals: ["a.b", "**.b"], keys: [] }),
    code: "bad_envelope",
    field: "frame.logicals[1]",
  },
  {
    name: "node name too long (status pages show it: bounded)",
    input: () =>
      withFrame({
        type: "NodeAttach",
        systemId: "s",
        instanceId: "i",
        logicals: [],
        keys: [],
        name: "n".repeat(65),
      }),
    code: "bad_envelope",
    field: "frame.name",
  },
  {
    name: "node name with a control character (status pages print it)",
    input: () =>
      withFrame({
        type: "NodeAttach",
        systemId: "s",
        instanceId: "i",
        logicals: [],
        keys: [],
        name: "a\u001b[31m",
      }),
    code: "bad_envelope",
    field: "frame.name",
  },
  {
    name: "systemId with '-'",
    input: () =>
      withFrame({ type: "NodeAttach", systemId: "sys-1", instanceId: "i", logicals: [], keys: [] }),
    code: "bad_envelope",
    field: "frame.systemId",
  },
  {
    name: "meta with 33 entries",
    input: () =>
      withBase((e) => (e.meta = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, i])))),
    code: "bad_envelope",
    field: "meta",
  },
  {
    name: "meta value is an object",
    input: () => withBase((e) => (e.meta = { x: {} })),
    code: "bad_envelope",
    field: "meta.x",
  },
  {
    name: "stickiness without mode",
    input: () => withFrame({ type: "NodeAttachAck", ok: true, stickiness: { ttl: 1 } }),
    code: "bad_envelope",
    field: "frame.stickiness.mode",
  },
  {
    name: "poolBatches not a boolean",
    input: () => withFrame({ type: "NodeAttachAck", ok: true, poolBatches: "yes" }),
    code: "bad_envelope",
    field: "frame.poolBatches",
  },
  {
    name: "SecureAccept ok without ephPub",
    input: () => withFrame({ type: "SecureAccept", cid: "c", ok: true }),
    code: "bad_envelope",
    field: "frame.ephPub",
  },
  {
    name: "KeyRequest without kid or address",
    input: () => withFrame({ type: "KeyRequest" }),
    code: "bad_envelope",
    field: "frame",
  },
  {
    name: "invalid UTF-8 bytes",
    input: () => {
      const bytes = new TextEncoder().encode(withBase((e) => (e.meta = { s: "ab" })));
      bytes[bytes.indexOf(0x61)] = 0xff;
      return bytes;
    },
    code: "bad_envelope",
    field: "",
  },
  {
    name: "leading BOM",
    input: () => new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(JSON.stringify(baseData()))]),
    code: "bad_envelope",
    field: "",
  },
];

describe("malformed envelopes", () => {
  it("the baseline is valid", () => {
    expect(() => decodeEnvelope(JSON.stringify(baseData()))).not.toThrow();
  });

  for (const c of cases) {
    it(`${c.name} → ${c.code} at "${c.field}"`, () => expectError(c.input(), c.code, c.field, c.limits));
  }

  it("has at least 20 distinct cases", () => {
    expect(new Set(cases.map((c) => c.name)).size).toBeGreaterThanOrEqual(20);
  });
});

describe("limits are enforced before parsing", () => {
  afterEach(() => vi.restoreAllMocks());

  it("oversize text never reaches JSON.parse", () => {
    const parse = vi.spyOn(JSON, "parse");
    expectError(`[${" ".repeat(2 * 1024 * 1024)}]`, "frame_too_large", "");
    expect(parse).not.toHaveBeenCalled();
  });

  it("100k-deep nesting never reaches JSON.parse", () => {
    const parse = vi.spyOn(JSON, "parse");
    expectError(`{"v":1,"frame":${"[".repeat(100_000)}${"]".repeat(100_000)}}`, "bad_envelope", "");
    expect(parse).not.toHaveBeenCalled();
  });

  it("brackets inside strings do not count as nesting", () => {
    const env = envelopeFor({ type: "Data", codec: "json", payload: { s: `${"[".repeat(100)}\\"{{{` } });
    expect(decodeEnvelope(encodeEnvelope(env))).toEqual(env);
  });

  it("depth limit is exact: 32 allowed, 33 refused", () => {
    // Envelope (1) > frame (2) > payload containers (3..).
    const nest = (n: number) => JSON.parse(`${"[".repeat(n)}${"]".repeat(n)}`);
    const ok = envelopeFor({ type: "Data", codec: "json", payload: nest(30) });
    expect(decodeEnvelope(JSON.stringify(ok))).toEqual(ok);
    const deep = envelopeFor({ type: "Data", codec: "json", payload: nest(31) });
    expectError(JSON.stringify(deep), "bad_envelope", "");
    // The post-parse walk enforces the same bound for values that never were text.
    const err = thrown(() => validateEnvelope(deep));
    expect(err.field).toMatch(/^frame\.payload/);
  });

  it("custom limits apply", () => {
    const env = envelopeFor({ type: "Heartbeat" });
    expectError(encodeEnvelope(env), "frame_too_large", "", { maxFrameBytes: 64 });
    expectError(JSON.stringify(baseData()), "bad_envelope", "", { maxDepth: 2 });
    expect(() => decodeEnvelope("{}", { maxDepth: 0 })).toThrow(RangeError);
  });

  it("payload strings are bounded by the frame, not the per-string limit", () => {
    const env = envelopeFor({ type: "Data", codec: "json", payload: "p".repeat(200_000) });
    expect(decodeEnvelope(encodeEnvelope(env))).toEqual(env);
  });
});

describe("prototype pollution", () => {
  it("a parsed __proto__ member neither changes prototypes nor passes validation", () => {
    const text = JSON.stringify(baseData()).replace(/^\{/, '{"__proto__":{"polluted":true},');
    expect(() => decodeEnvelope(text)).toThrow(ProtocolError);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("fields inherited from a polluted Object.prototype are not read", () => {
    const proto = Object.prototype as Record<string, unknown>;
    proto.frame = { type: "Heartbeat" };
    try {
      const err = thrown(() => decodeEnvelope('{"v":1,"id":"x","sid":"a","ts":1}'));
      expect(err.field).toBe("frame");
    } finally {
      delete proto.frame;
    }
  });
});

describe("validateEnvelope on in-process values", () => {
  it("turns throwing getters into ProtocolError", () => {
    const env = { ...baseData() };
    Object.defineProperty(env, "id", {
      enumerable: true,
      get() {
        throw new Error("boom");
      },
    });
    expect(thrown(() => validateEnvelope(env)).code).toBe("bad_envelope");
  });

  it("refuses cycles and exponential sharing in payloads without blowing up", () => {
    const cyclic: Json = {};
    cyclic.self = cyclic;
    const env = envelopeFor({ type: "Data", codec: "json", payload: {} });
    (env.frame as unknown as Json).payload = cyclic;
    expect(thrown(() => validateEnvelope(env)).code).toBe("bad_envelope");

    let shared: unknown = "x".repeat(100);
    for (let i = 0; i < 28; i++) shared = [shared, shared];
    (env.frame as unknown as Json).payload = shared;
    const err = thrown(() => validateEnvelope(env));
    expect(err.code).toBe("frame_too_large");
  });

  it("refuses non-plain objects and non-JSON values", () => {
    for (const payload of [new Date(0), new Map(), () => 1, 10n, Symbol("s"), [undefined]]) {
      const env = envelopeFor({ type: "Data", codec: "json", payload: null });
      (env.frame as unknown as Json).payload = payload;
      expect(thrown(() => validateEnvelope(env)).field).toMatch(/^frame\.payload/);
    }
  });

  it("encodeEnvelope refuses what decode would refuse", () => {
    const env = { ...envelopeFor({ type: "Heartbeat" }), extra: 1 } as unknown as Envelope;
    expect(thrown(() => encodeEnvelope(env)).field).toBe("extra");
  });
});
