import { describe, expect, it } from "vitest";
import {
  base64urlDecode,
  base64urlEncode,
  DEFAULT_LIMITS,
  decodeEnvelope,
  ERROR_CODE_DESCRIPTIONS,
  ERROR_CODES,
  encodeEnvelope,
  ID_PATTERN,
  isErrorCode,
  makeEnvelope,
  nackFor,
  newId,
  resolveLimits,
} from "../src/index.js";
import { envelopeFor } from "./fixtures.js";

describe("newId", () => {
  it("is 22 url-safe characters and does not repeat", () => {
    const ids = new Set(Array.from({ length: 1000 }, newId));
    expect(ids.size).toBe(1000);
    for (const id of ids) {
      expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(id).toMatch(ID_PATTERN);
    }
  });

  it("is the canonical base64url of 16 bytes, with every character of the alphabet in use", () => {
    const seen = new Set<string>();
    // across pool refills (256 ids a pool)
    for (let i = 0; i < 2000; i++) {
      const id = newId();
      const bytes = base64urlDecode(id);
      expect(bytes).toHaveLength(16);
      expect(base64urlEncode(bytes)).toBe(id);
      for (const c of id) seen.add(c);
    }
    expect(seen.size).toBe(64);
  });
});

describe("makeEnvelope", () => {
  it("fills v, id and ts and drops undefined members", () => {
    const before = Date.now();
    const env = makeEnvelope({ sid: "abc", to: undefined, frame: { type: "Heartbeat" } });
    expect(env.v).toBe(1);
    expect(env.id).toHaveLength(22);
    expect(env.ts).toBeGreaterThanOrEqual(before);
    expect(Object.keys(env).sort()).toEqual(["frame", "id", "sid", "ts", "v"]);
    expect(decodeEnvelope(encodeEnvelope(env))).toEqual(env);
  });

  it("keeps an explicit id and ts", () => {
    const env = makeEnvelope({ id: "fixed", ts: 7, sid: "abc", frame: { type: "Drain" } });
    expect(env).toEqual({ v: 1, id: "fixed", ts: 7, sid: "abc", frame: { type: "Drain" } });
  });
});

describe("nackFor", () => {
  it("answers an envelope with a negative DeliveryAck", () => {
    const req = envelopeFor({ type: "Data", codec: "json", payload: 1 });
    const nack = nackFor(req, "no_route", "nobody serves math", { sid: "Sentinel1", ts: 9 });
    expect(nack).toMatchObject({
      v: 1,
      sid: "Sentinel1",
      ts: 9,
      to: req.replyTo,
      corrId: req.corrId,
      frame: {
        type: "DeliveryAck",
        ok: false,
        refId: req.id,
        code: "no_route",
        reason: "nobody serves math",
      },
    });
    expect(nack.id).not.toBe(req.id);
    expect(decodeEnvelope(encodeEnvelope(nack))).toEqual(nack);
  });

  it("correlates by id when the request had no corrId, and omits empty reasons and absent replyTo", () => {
    const req = makeEnvelope({ sid: "abc", frame: { type: "Heartbeat" } });
    const nack = nackFor(req, "draining", "", { sid: "S" });
    expect(nack.corrId).toBe(req.id);
    expect(nack.to).toBeUndefined();
    expect(nack.frame).toEqual({ type: "DeliveryAck", ok: false, refId: req.id, code: "draining" });
    expect(decodeEnvelope(encodeEnvelope(nack))).toEqual(nack);
  });
});

describe("error codes", () => {
  it("form one list with descriptions and include the required codes", () => {
    const required =
      "bad_envelope frame_too_large unknown_frame no_route address_conflict not_authorized ticket_invalid " +
      "ticket_replayed cert_invalid logical_not_granted signature_missing signature_invalid key_unknown " +
      "channel_unknown channel_conflict decrypt_failed replay replica_unavailable timeout rate_limited " +
      "too_many_inflight too_many_channels attach_timeout session_conflict no_free_replica NOT_ACTIVE " +
      "draining internal_error method_not_found invalid_params";
    for (const code of required.split(" ")) expect(ERROR_CODES).toContain(code);
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    for (const code of ERROR_CODES) expect(ERROR_CODE_DESCRIPTIONS[code].length).toBeGreaterThan(0);
  });

  it("isErrorCode ignores inherited names", () => {
    expect(isErrorCode("timeout")).toBe(true);
    for (const s of ["constructor", "toString", "__proto__", "TIMEOUT", 1])
      expect(isErrorCode(s)).toBe(false);
  });
});

describe("resolveLimits", () => {
  it("returns an already resolved object as is, and freezes what it resolves", () => {
    const once = resolveLimits({ maxFrameBytes: 4096 });
    expect(Object.isFrozen(once)).toBe(true);
    expect(resolveLimits(once)).toBe(once);
    expect(resolveLimits(undefined)).toBe(DEFAULT_LIMITS);
    expect(resolveLimits({ ...once })).not.toBe(once);
    expect(resolveLimits({ ...once })).toEqual(once);
  });
});
