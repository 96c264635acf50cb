import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  aeadAad,
  base62,
  canonicalJson,
  type Envelope,
  immutableHeaders,
  payloadDigest,
  payloadDigestMatches,
  SIGNING_SEPARATOR,
  sidFromPath,
  signingInput,
} from "../src/index.js";
import { CT, envelopeFor } from "./fixtures.js";

const b64sha = (s: string) => createHash("sha256").update(s, "utf8").digest("base64url");
const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("sid", () => {
  it("derivation is stable", () => {
    expect(sidFromPath("/sentinel1/node_7")).toBe("7mhtn7mhf3gqUTOv1HLjeG");
    expect(sidFromPath("/a")).toBe("3Ec8hoEL5knfkVYultLlIs");
    expect(sidFromPath("/a")).toBe(sidFromPath("/a"));
    expect(sidFromPath("/a")).not.toBe(sidFromPath("/b"));
  });

  it("base62 keeps leading zero bytes", () => {
    expect(base62(new Uint8Array([0, 0, 1]))).toBe("001");
    expect(base62(new Uint8Array([255]))).toBe("47");
    expect(base62(new Uint8Array([]))).toBe("");
  });
});

describe("payloadDigest", () => {
  it("hashes canonical JSON of a clear payload", () => {
    expect(payloadDigest({ type: "Data", codec: "json", payload: {} })).toBe(
      "RBNvo1WzZ4oRRq0W9-hknpT7T8If536DEMBg9hyq_4o",
    );
    const payload = { b: [1, "x"], a: null };
    expect(payloadDigest({ type: "Data", codec: "json", payload })).toBe(b64sha('{"a":null,"b":[1,"x"]}'));
  });

  it("hashes the ciphertext text of a sealed payload", () => {
    expect(payloadDigest({ type: "Data", codec: "enc", ct: CT })).toBe(b64sha(CT));
  });

  it("hashes the canonical frame otherwise", () => {
    const frame = { type: "SecureClose", cid: "c1", reason: "bye" } as const;
    expect(payloadDigest(frame)).toBe(b64sha('{"cid":"c1","reason":"bye","type":"SecureClose"}'));
  });

  it("ignores a declared pd, and payloadDigestMatches checks it", () => {
    const good = payloadDigest({ type: "Data", codec: "json", payload: 1 });
    expect(payloadDigest({ type: "Data", codec: "json", payload: 1, pd: "x" })).toBe(good);
    expect(payloadDigestMatches({ type: "Data", codec: "json", payload: 1, pd: good })).toBe(true);
    expect(payloadDigestMatches({ type: "Data", codec: "json", payload: 2, pd: good })).toBe(false);
    expect(payloadDigestMatches({ type: "Data", codec: "json", payload: 2 })).toBe(true);
    expect(payloadDigestMatches({ type: "Heartbeat" })).toBe(true);
  });
});

describe("signingInput", () => {
  const env = envelopeFor({ type: "Data", codec: "json", payload: { n: 1 } });

  it("is sid ‖ 0x1F ‖ immutable headers ‖ 0x1F ‖ pd", () => {
    const input = signingInput(env);
    const first = input.indexOf(SIGNING_SEPARATOR);
    const second = input.indexOf(SIGNING_SEPARATOR, first + 1);
    expect(SIGNING_SEPARATOR).toBe(0x1f);
    expect(input.lastIndexOf(SIGNING_SEPARATOR)).toBe(second);
    expect(text(input.subarray(0, first))).toBe(env.sid);
    expect(text(input.subarray(first + 1, second))).toBe(
      '{"corrId":"corr-1","id":"env-1","replyTo":"client@/sentinel1/node_9","sid":"5hK2aZ",' +
        '"to":"math@fame.fabric","ts":1700000000000,"v":1}',
    );
    expect(text(input.subarray(second + 1))).toBe(b64sha('{"n":1}'));
  });

  it("immutable headers omit absent members", () => {
    const bare: Envelope = { v: 1, id: "i", sid: "s", ts: 5, frame: { type: "Heartbeat" } };
    expect(text(immutableHeaders(bare))).toBe('{"id":"i","sid":"s","ts":5,"v":1}');
    expect(text(signingInput(bare))).toBe(
      `s\u001f{"id":"i","sid":"s","ts":5,"v":1}\u001f${b64sha(canonicalJson({ type: "Heartbeat" }))}`,
    );
  });

  it("never signs a declared pd: a swapped payload changes the input whatever pd claims", () => {
    const honest = envelopeFor({ type: "Data", codec: "json", payload: { to: "bob", amount: 1 } });
    const pd = payloadDigest(honest.frame);
    const swapped = envelopeFor({ type: "Data", codec: "json", payload: { to: "mallory", amount: 1e6 }, pd });
    expect(text(signingInput(swapped))).not.toBe(text(signingInput(honest)));
    expect(text(signingInput(swapped)).endsWith(`\u001f${b64sha('{"amount":1000000,"to":"mallory"}')}`)).toBe(
      true,
    );
  });

  it("covers immutable headers and payload, not hop-level members", () => {
    const base = text(signingInput(env));
    const same: Envelope = { ...env, ttlMs: 1, meta: { x: 1 }, sec: undefined, aft: undefined };
    expect(text(signingInput(same))).toBe(base);
    for (const changed of [
      { ...env, ts: env.ts + 1 },
      { ...env, to: "other@fame.fabric" },
      { ...env, corrId: undefined },
      { ...env, frame: { type: "Data", codec: "json", payload: { n: 2 } } },
    ] as Envelope[]) {
      expect(text(signingInput(changed))).not.toBe(base);
    }
  });

  it("aeadAad is the immutable headers", () => {
    expect(aeadAad(env)).toEqual(immutableHeaders(env));
  });
});
