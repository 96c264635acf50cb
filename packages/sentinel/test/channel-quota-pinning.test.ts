import { defaultBackend } from "@fame/crypto";
import { base64urlEncode } from "@fame/protocol";
import { AFTLoadBalancerStickinessManager } from "@fame/sentinel";
import { describe, expect, it } from "vitest";
import { attachNode, issueAft, makeSentinel } from "./test-node.js";

/**
 * A channel whose SecureAccept is being pinned (its AFT is checked asynchronously) must keep
 * counting against the client's channel quota: opens that arrive in that window are refused.
 */

const backend = defaultBackend();
const MATH = "math@fame.fabric";

describe("channel quota while an accept is pinned", () => {
  it("refuses an open that arrives while the only allowed channel's AFT is being checked", async () => {
    const s = makeSentinel(
      "overlay",
      new AFTLoadBalancerStickinessManager({ securityLevel: "strict" }),
      100,
      "round_robin",
      { maxChannelsPerClient: 1 },
    );
    const r = await attachNode(s, "r", ["*.fame.fabric"], "overlay");
    await r.send({ frame: { type: "AddressBind", address: MATH } });
    const c = await attachNode(s, "c", [], "overlay");
    const replyTo = `rpc@${c.session.path}`;
    const ephPub = base64urlEncode(backend.x25519Keygen().publicKey);
    const open = (cid: string) =>
      c.send({
        to: MATH,
        replyTo,
        corrId: cid,
        frame: { type: "SecureOpen", cid, ephPub, alg: "CHACHA20P1305" },
      });
    await open("a");
    expect(r.link.frames("SecureOpen")).toHaveLength(1);
    const aft = await issueAft(r, c, "a");
    // the accept is handed over, its AFT check still running, when the next open arrives
    const accepting = r.send({
      to: replyTo,
      corrId: "a",
      frame: { type: "SecureAccept", cid: "a", ok: true, ephPub, aft },
    });
    await open("b");
    await accepting;
    expect(c.link.frames("SecureAccept")).toHaveLength(1);
    expect(c.link.frames("DeliveryAck").map((e) => e.frame)).toEqual([
      expect.objectContaining({ ok: false, code: "too_many_channels" }),
    ]);
    expect(r.link.frames("SecureOpen")).toHaveLength(1);
    // a second accept for the same channel pins nothing more
    await r.send({
      to: replyTo,
      corrId: "a",
      frame: { type: "SecureAccept", cid: "a", ok: true, ephPub, aft },
    });
    expect(c.link.frames("SecureAccept")).toHaveLength(1);
  });
});
