import { describe, expect, it } from "vitest";
import {
  decodeEnvelope,
  type Envelope,
  encodeEnvelope,
  FRAME_TYPES,
  isFrameType,
  validateEnvelope,
  validateFrame,
} from "../src/index.js";
import { envelopeFor, SAMPLE_FRAMES } from "./fixtures.js";

describe("encode → decode round trip", () => {
  it("samples cover every frame type", () => {
    const covered = new Set(SAMPLE_FRAMES.map((f) => f.type));
    expect([...covered].sort()).toEqual([...FRAME_TYPES].sort());
  });

  for (const frame of SAMPLE_FRAMES) {
    it(`${frame.type} ${JSON.stringify(frame).slice(0, 60)}`, () => {
      const env = envelopeFor(frame);
      const text = encodeEnvelope(env);
      expect(decodeEnvelope(text)).toEqual(env);
      expect(decodeEnvelope(new TextEncoder().encode(text))).toEqual(env);
      expect(validateFrame(frame)).toBe(frame);
    });
  }

  it("minimal envelope without optional headers", () => {
    const env: Envelope = { v: 1, id: "x", sid: "0", ts: 0, frame: { type: "Heartbeat" } };
    expect(decodeEnvelope(encodeEnvelope(env))).toEqual(env);
  });

  it("validateEnvelope returns the same object", () => {
    const env = envelopeFor({ type: "Heartbeat" });
    expect(validateEnvelope(env)).toBe(env);
  });

  it("encode drops undefined members like JSON and still validates", () => {
    const env = {
      v: 1,
      id: "x",
      sid: "0",
      ts: 1,
      to: undefined,
      frame: { type: "Drain", deadlineMs: undefined },
    };
    expect(encodeEnvelope(env as unknown as Envelope)).toBe(
      '{"v":1,"id":"x","sid":"0","ts":1,"frame":{"type":"Drain"}}',
    );
  });

  it("isFrameType only knows the listed types", () => {
    for (const t of FRAME_TYPES) expect(isFrameType(t)).toBe(true);
    for (const t of ["constructor", "__proto__", "data", "", 1]) expect(isFrameType(t)).toBe(false);
  });

  it("unicode payload survives", () => {
    const env = envelopeFor({ type: "Data", codec: "json", payload: { s: "😀 é \u0000 \u2028" } });
    expect(decodeEnvelope(encodeEnvelope(env))).toEqual(env);
  });
});
