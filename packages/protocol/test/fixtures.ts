import { expect } from "vitest";
import { base64urlEncode, type Envelope, type Frame, type Jwk, ProtocolError } from "../src/index.js";

export const B32 = base64urlEncode(new Uint8Array(32).fill(7));
export const B64 = base64urlEncode(new Uint8Array(64).fill(9));
export const CT = base64urlEncode(new Uint8Array(48).fill(3));
export const JWS = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";

export const edKey: Jwk = { kty: "OKP", crv: "Ed25519", x: B32, kid: "k1", use: "sig", x5c: ["MIIBAA=="] };
export const xKey: Jwk = { kty: "OKP", crv: "X25519", x: B32, kid: "k2" };

/** One valid instance of every frame type (two for Data), with optional members exercised. */
export const SAMPLE_FRAMES: Frame[] = [
  {
    type: "NodeAttach",
    systemId: "sys_1",
    instanceId: "inst-1.a:b",
    attachTicket: JWS,
    logicals: ["fame.fabric", "*.svc.fame.fabric"],
    keys: [edKey, xKey],
    capabilities: ["rpc", "stream/v1"],
  },
  {
    type: "NodeAttachAck",
    ok: true,
    assignedPath: "/sentinel1/node_7",
    keys: [edKey],
    stickiness: { mode: "sid", ttlMs: 30000, strict: true },
    heartbeatMs: 5000,
  },
  { type: "NodeAttachAck", ok: false, code: "ticket_invalid", reason: "expired" },
  { type: "AddressBind", address: "math@fame.fabric" },
  {
    type: "AddressBindAck",
    address: "math@fame.fabric",
    ok: false,
    code: "address_conflict",
    reason: "taken",
  },
  { type: "AddressUnbind", address: "worker@/sentinel1/node_7" },
  { type: "Heartbeat" },
  { type: "HeartbeatAck" },
  { type: "Data", codec: "json", payload: { method: "add", params: [1, 2.5, null, true, "x", { ü: [] }] } },
  { type: "Data", codec: "json", payload: null, pd: B32 },
  { type: "Data", codec: "enc", ct: CT, pd: B32 },
  { type: "DeliveryAck", ok: true, refId: "abc" },
  { type: "DeliveryAck", ok: false, refId: "abc", code: "no_route", reason: "nobody home" },
  { type: "KeyRequest", kid: "k1" },
  { type: "KeyRequest", address: "math@fame.fabric" },
  { type: "KeyAnnounce", keys: [edKey, xKey], sid: "3xYz", address: "math@fame.fabric" },
  { type: "SecureOpen", cid: "c-1", ephPub: B32, alg: "CHACHA20P1305" },
  { type: "SecureAccept", cid: "c-1", ok: true, ephPub: B32, aft: JWS },
  { type: "SecureAccept", cid: "c-1", ok: false, code: "too_many_channels", reason: "limit" },
  { type: "SecureClose", cid: "c-1", reason: "done" },
  { type: "SecureClose", cid: "c-1" },
  { type: "Drain", deadlineMs: 10000 },
  { type: "Drain" },
  { type: "KeyUpdate", keys: [edKey] },
];

export function envelopeFor(frame: Frame): Envelope {
  const env: Envelope = {
    v: 1,
    id: "env-1",
    sid: "5hK2aZ",
    to: "math@fame.fabric",
    replyTo: "client@/sentinel1/node_9",
    corrId: "corr-1",
    ts: 1_700_000_000_000,
    ttlMs: 30_000,
    frame,
    aft: JWS,
    meta: { trace: "t-1", hops: 2, urgent: false },
  };
  if (frame.type === "Data" && frame.codec === "enc") {
    env.sec = {
      sig: { alg: "EdDSA", kid: "k1", val: B64 },
      enc: { alg: "chacha20-poly1305-channel", cid: "c-1", seq: 1, kid: "k2", ac: B32 },
    };
  } else {
    env.sec = { sig: { alg: "EdDSA", kid: "k1", val: B64 } };
  }
  return env;
}

/** A minimal valid Data envelope, as a JSON-able object tests can mutate. */
export function baseData(): Record<string, unknown> {
  return {
    v: 1,
    id: "m1",
    sid: "5hK2aZ",
    to: "math@fame.fabric",
    ts: 1_700_000_000_000,
    frame: { type: "Data", codec: "json", payload: { a: 1 } },
  };
}

/** The ProtocolError that `run` throws (the test fails if it throws anything else, or nothing). */
export function thrown(run: () => unknown): ProtocolError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    return err as ProtocolError;
  }
  throw new Error("expected a ProtocolError");
}
