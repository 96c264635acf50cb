import { base64urlEncode } from "@fame/protocol";
import { KEY_UPDATE_GAP_MS } from "@fame/sentinel";
import { describe, expect, it } from "vitest";
import { attachNode, makeSentinel } from "./test-node.js";

/**
 * An attached node's keys over time: a renewed key presented with KeyUpdate (checked as at
 * attach, in strict-overlay only), at most one KeyUpdate at a time and a few seconds apart,
 * and a key whose certificate expired signs nothing any more (audit round 15).
 */
const nackOf = (frames: { frame: { type: string; code?: string; reason?: string } }[]) =>
  frames.filter((e) => e.frame.type === "DeliveryAck").map((e) => (e.frame as { code?: string }).code);

describe("KeyUpdate", () => {
  it("answers a key already held at once, refuses keys outside strict-overlay, and one per gap", async () => {
    const s = makeSentinel("overlay");
    const n = await attachNode(s, "n1", [], "overlay");
    const own = n.session.keys.get(n.kid)!.jwk;
    await n.send({ frame: { type: "KeyUpdate", keys: [own] } });
    expect(n.link.last().frame).toMatchObject({ type: "DeliveryAck", ok: true });
    // at once again: past the gap only (accepted or not, each costs certificate checks)
    await n.send({ frame: { type: "KeyUpdate", keys: [own] } });
    expect(n.link.last().frame).toMatchObject({ type: "DeliveryAck", ok: false, code: "rate_limited" });
    expect(KEY_UPDATE_GAP_MS).toBeGreaterThanOrEqual(1000);
  });

  it("refuses a new key outside strict-overlay (keys there come without certificates)", async () => {
    const s = makeSentinel("overlay");
    const n = await attachNode(s, "n2", [], "overlay");
    const other = {
      kty: "OKP" as const,
      crv: "Ed25519" as const,
      x: base64urlEncode(new Uint8Array(32).fill(7)),
      kid: "k",
    };
    await n.send({ frame: { type: "KeyUpdate", keys: [other] } });
    await expect.poll(() => nackOf(n.link.frames("DeliveryAck"))).toEqual(["bad_envelope"]);
    expect(n.session.keys.has("k")).toBe(false);
  });
});

describe("a key past its certificate", () => {
  it("signs nothing: its frames are refused key_unknown", async () => {
    const s = makeSentinel("overlay");
    const n = await attachNode(s, "n3", [], "overlay");
    n.session.keys.get(n.kid)!.notAfter = Date.now() - 1;
    await n.send({ frame: { type: "AddressBind", address: "x@fame.fabric" } });
    expect(n.link.last().frame).toMatchObject({
      type: "DeliveryAck",
      ok: false,
      code: "key_unknown",
      reason: "signed with a key whose certificate has expired",
    });
  });
});
