import { describe, expect, it } from "vitest";
import {
  aeadAad,
  type BatchEntry,
  batchOf,
  decodeEnvelope,
  type Envelope,
  encodeEnvelope,
  immutableHeaders,
  MAX_BATCH_ENTRIES,
  payloadDigest,
  SIGNING_SEPARATOR,
  signingInput,
} from "../src/index.js";
import { CT, envelopeFor, thrown } from "./fixtures.js";

type Json = Record<string, unknown>;

/** A valid coalesced sealed record: codec enc, a batch list, and no envelope corrId. */
function batched(batch: BatchEntry[] = [{ corrId: "a" }, { corrId: "b", more: true }]): Envelope {
  const env = envelopeFor({ type: "Data", codec: "enc", ct: CT, batch });
  delete env.corrId;
  return env;
}

/** the valid record as plain JSON, changed by `change` (frame passed for convenience) */
function mutated(change: (env: Json, frame: Json) => void): Json {
  const env = JSON.parse(JSON.stringify(batched())) as Json;
  change(env, env.frame as Json);
  return env;
}

const entries = (n: number): Json[] => Array.from({ length: n }, (_, i) => ({ corrId: `c${i}` }));

describe("batched sealed Data: codec", () => {
  it("decodes and encodes a valid batched record unchanged", () => {
    const env = batched();
    const text = encodeEnvelope(env);
    expect(decodeEnvelope(text)).toEqual(env);
    expect(decodeEnvelope(new TextEncoder().encode(text))).toEqual(env);
  });

  it("accepts repeated corrIds (a burst of one stream's items) and the largest list", () => {
    const repeats = batched([{ corrId: "s", more: true }, { corrId: "s", more: true }, { corrId: "s" }]);
    expect(decodeEnvelope(encodeEnvelope(repeats))).toEqual(repeats);
    const largest = batched(entries(MAX_BATCH_ENTRIES) as unknown as BatchEntry[]);
    expect(decodeEnvelope(encodeEnvelope(largest))).toEqual(largest);
    expect(MAX_BATCH_ENTRIES).toBe(256);
  });

  interface Refusal {
    name: string;
    change: (env: Json, frame: Json) => void;
    field: string;
  }

  const refusals: Refusal[] = [
    { name: "1 entry", change: (_, f) => (f.batch = entries(1)), field: "frame.batch" },
    { name: "no entries", change: (_, f) => (f.batch = []), field: "frame.batch" },
    {
      name: `${MAX_BATCH_ENTRIES + 1} entries`,
      change: (_, f) => (f.batch = entries(MAX_BATCH_ENTRIES + 1)),
      field: "frame.batch",
    },
    { name: "batch not an array", change: (_, f) => (f.batch = { corrId: "a" }), field: "frame.batch" },
    {
      name: "entry not an object",
      change: (_, f) => (f.batch = [{ corrId: "a" }, "b"]),
      field: "frame.batch[1]",
    },
    {
      name: "entry null",
      change: (_, f) => (f.batch = [{ corrId: "a" }, null]),
      field: "frame.batch[1]",
    },
    {
      name: "entry an array",
      change: (_, f) => (f.batch = [["a"], { corrId: "b" }]),
      field: "frame.batch[0]",
    },
    {
      name: "entry with an extra key",
      change: (_, f) => (f.batch = [{ corrId: "a" }, { corrId: "b", to: "x" }]),
      field: "frame.batch[1].to",
    },
    {
      name: "entry without corrId",
      change: (_, f) => (f.batch = [{ corrId: "a" }, { more: true }]),
      field: "frame.batch[1].corrId",
    },
    {
      name: "corrId with a list separator",
      change: (_, f) => (f.batch = [{ corrId: "a,b" }, { corrId: "c" }]),
      field: "frame.batch[0].corrId",
    },
    {
      name: "corrId with a more marker",
      change: (_, f) => (f.batch = [{ corrId: "a" }, { corrId: "b+" }]),
      field: "frame.batch[1].corrId",
    },
    {
      name: "corrId too long",
      change: (_, f) => (f.batch = [{ corrId: "a" }, { corrId: "x".repeat(129) }]),
      field: "frame.batch[1].corrId",
    },
    {
      name: "corrId a number",
      change: (_, f) => (f.batch = [{ corrId: 1 }, { corrId: "b" }]),
      field: "frame.batch[0].corrId",
    },
    {
      name: "more: false",
      change: (_, f) => (f.batch = [{ corrId: "a", more: false }, { corrId: "b" }]),
      field: "frame.batch[0].more",
    },
    {
      name: 'more: "true"',
      change: (_, f) => (f.batch = [{ corrId: "a" }, { corrId: "b", more: "true" }]),
      field: "frame.batch[1].more",
    },
    { name: "batch plus an envelope corrId", change: (env) => (env.corrId = "c-1"), field: "corrId" },
  ];

  for (const r of refusals) {
    it(`refuses ${r.name} (field ${r.field})`, () => {
      const value = mutated(r.change);
      const decoded = thrown(() => decodeEnvelope(JSON.stringify(value)));
      expect({ code: decoded.code, field: decoded.field }).toEqual({ code: "bad_envelope", field: r.field });
      // the encoder refuses what a peer would refuse
      const encoded = thrown(() => encodeEnvelope(value as unknown as Envelope));
      expect({ code: encoded.code, field: encoded.field }).toEqual({ code: "bad_envelope", field: r.field });
    });
  }
});

describe("aeadAad", () => {
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

  it("is the immutable headers for an unbatched record", () => {
    const env = envelopeFor({ type: "Data", codec: "enc", ct: CT });
    expect(aeadAad(env)).toEqual(immutableHeaders(env));
    const plain = envelopeFor({ type: "Data", codec: "json", payload: { a: 1 } });
    expect(aeadAad(plain)).toEqual(immutableHeaders(plain));
  });

  it("is headers ‖ 0x1F ‖ the list for a batched record, '+' marking more", () => {
    const env = batched([{ corrId: "a" }, { corrId: "b", more: true }]);
    const headers = immutableHeaders(env);
    const aad = aeadAad(env);
    const expected = new Uint8Array([...headers, SIGNING_SEPARATOR, ...new TextEncoder().encode("a,b+")]);
    expect(SIGNING_SEPARATOR).toBe(0x1f);
    expect(aad).toEqual(expected);
    expect(decode(aad.subarray(headers.length + 1))).toBe("a,b+");
  });

  it("changes with the list: order, a more flag, an entry added or removed", () => {
    const base = aeadAad(batched([{ corrId: "a" }, { corrId: "b", more: true }]));
    const variants: BatchEntry[][] = [
      [{ corrId: "b", more: true }, { corrId: "a" }],
      [{ corrId: "a" }, { corrId: "b" }],
      [
        { corrId: "a", more: true },
        { corrId: "b", more: true },
      ],
      [{ corrId: "a" }, { corrId: "b", more: true }, { corrId: "c" }],
      [{ corrId: "ab" }, { corrId: "b", more: true }],
    ];
    const seen = new Set([decode(base)]);
    for (const batch of variants) {
      const aad = aeadAad(batched(batch));
      expect(aad).not.toEqual(base);
      seen.add(decode(aad));
    }
    expect(seen.size).toBe(variants.length + 1);
  });

  it("still binds the headers of a batched record", () => {
    const a = batched();
    const b = batched();
    b.id = "env-2";
    expect(aeadAad(a)).not.toEqual(aeadAad(b));
  });
});

describe("batchOf", () => {
  it("returns the list of a batched sealed record", () => {
    const list: BatchEntry[] = [{ corrId: "a" }, { corrId: "b", more: true }];
    expect(batchOf(batched(list))).toEqual(list);
  });

  it("is undefined for single-message and other envelopes", () => {
    expect(batchOf(envelopeFor({ type: "Data", codec: "enc", ct: CT }))).toBeUndefined();
    expect(batchOf(envelopeFor({ type: "Data", codec: "json", payload: 1 }))).toBeUndefined();
    expect(batchOf(envelopeFor({ type: "Heartbeat" }))).toBeUndefined();
  });
});

/** A valid clear batch: codec json, one payload per entry, and no envelope corrId. */
function clearBatch(
  payload: unknown = [{ a: 1 }, "two"],
  batch: BatchEntry[] = [{ corrId: "a" }, { corrId: "b", more: true }],
): Envelope {
  const env = envelopeFor({ type: "Data", codec: "json", payload: payload as never, batch });
  delete env.corrId;
  return env;
}

describe("batched clear Data", () => {
  it("decodes and encodes a valid clear batch unchanged; batchOf returns its list", () => {
    const env = clearBatch();
    expect(decodeEnvelope(encodeEnvelope(env))).toEqual(env);
    expect(batchOf(env)).toEqual([{ corrId: "a" }, { corrId: "b", more: true }]);
  });

  const refusals: { name: string; env: () => Json; field: string }[] = [
    {
      name: "a payload that is not an array",
      env: () => ({
        ...clearBatch(),
        frame: { type: "Data", codec: "json", payload: { a: 1 }, batch: [{ corrId: "a" }, { corrId: "b" }] },
      }),
      field: "frame.payload",
    },
    {
      name: "fewer payloads than entries",
      env: () => clearBatch([1]) as unknown as Json,
      field: "frame.payload",
    },
    {
      name: "more payloads than entries",
      env: () => clearBatch([1, 2, 3]) as unknown as Json,
      field: "frame.payload",
    },
    {
      name: "one entry",
      env: () => clearBatch([1], [{ corrId: "a" }]) as unknown as Json,
      field: "frame.batch",
    },
    {
      name: "an envelope corrId beside the list",
      env: () => ({ ...clearBatch(), corrId: "c-1" }) as unknown as Json,
      field: "corrId",
    },
  ];
  for (const r of refusals) {
    it(`refuses ${r.name} (field ${r.field})`, () => {
      const value = JSON.parse(JSON.stringify(r.env())) as Json;
      const decoded = thrown(() => decodeEnvelope(JSON.stringify(value)));
      expect({ code: decoded.code, field: decoded.field }).toEqual({ code: "bad_envelope", field: r.field });
      const encoded = thrown(() => encodeEnvelope(value as unknown as Envelope));
      expect({ code: encoded.code, field: encoded.field }).toEqual({ code: "bad_envelope", field: r.field });
    });
  }

  it("binds the list into the payload digest a signature covers: order, more, corrIds, payloads", () => {
    const base = clearBatch();
    const digest = payloadDigest(base.frame);
    const variants: Envelope[] = [
      clearBatch(undefined, [{ corrId: "b", more: true }, { corrId: "a" }]),
      clearBatch(undefined, [{ corrId: "a" }, { corrId: "b" }]),
      clearBatch(undefined, [{ corrId: "a" }, { corrId: "x", more: true }]),
      clearBatch(["two", { a: 1 }]),
    ];
    for (const v of variants) {
      expect(payloadDigest(v.frame)).not.toBe(digest);
      expect(Buffer.from(signingInput(v)).equals(Buffer.from(signingInput(base)))).toBe(false);
    }
    // the same list and payloads in another key order: the same digest (canonical JSON)
    const reordered = clearBatch(
      [{ a: 1 }, "two"],
      [{ more: true, corrId: "b" } as BatchEntry, { corrId: "a" }].reverse(),
    );
    expect(payloadDigest(reordered.frame)).toBe(digest);
    // a lone message's digest is its payload's, as before batches existed
    const lone = envelopeFor({ type: "Data", codec: "json", payload: { a: 1 } });
    expect(payloadDigest(lone.frame)).toBe(
      payloadDigest(envelopeFor({ type: "Data", codec: "json", payload: { a: 1 } }).frame),
    );
    expect(payloadDigest(lone.frame)).not.toBe(payloadDigest(clearBatch([{ a: 1 }, { a: 1 }]).frame));
  });
});
