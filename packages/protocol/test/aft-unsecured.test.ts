import { describe, expect, it } from "vitest";
import { decodeEnvelope, type Envelope, encodeEnvelope, isProtocolError } from "../src/index.js";
import { B32, envelopeFor } from "./fixtures.js";

/**
 * An unsecured affinity tag (`alg: "none"`, empty signature, as `unsignedAft`
 * makes it) is well-formed on the wire: whether it is acceptable is the
 * stickiness manager's decision, which can then answer the client by code.
 */
const header = Buffer.from(JSON.stringify({ alg: "none", typ: "fame-aft+jwt" })).toString("base64url");
const claims = Buffer.from(JSON.stringify({ sid: "a", cid: "c" })).toString("base64url");
const UNSECURED = `${header}.${claims}.`;

describe("unsecured AFTs on the wire", () => {
  it("travel in SecureAccept.aft and in the envelope's aft", () => {
    const accept = envelopeFor({ type: "SecureAccept", cid: "c-1", ok: true, ephPub: B32, aft: UNSECURED });
    expect(decodeEnvelope(encodeEnvelope(accept))).toEqual(accept);
    const data: Envelope = { ...envelopeFor({ type: "Heartbeat" }), aft: UNSECURED };
    expect(decodeEnvelope(encodeEnvelope(data))).toEqual(data);
  });

  it("still need a header and two dots", () => {
    for (const bad of [
      ".x.",
      "x.",
      "x",
      `${header}.${claims}`,
      `${header}.${claims}.sig.extra`,
      "a.b.c=",
      "",
    ]) {
      const env: Envelope = { ...envelopeFor({ type: "Heartbeat" }), aft: bad };
      let code = "";
      try {
        decodeEnvelope(JSON.stringify(env));
      } catch (err) {
        code = isProtocolError(err) ? err.code : "other";
      }
      expect(code, bad).toBe("bad_envelope");
    }
  });
});
