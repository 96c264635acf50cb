import { defaultBackend } from "@fame/crypto";
import { base64urlEncode, type Envelope, encodeEnvelope, makeEnvelope } from "@fame/protocol";
import { AFTLoadBalancerStickinessManager } from "@fame/sentinel";
import { describe, expect, it } from "vitest";
import { acceptChannel, attachNode, issueAft, makeSentinel } from "./test-node.js";

/**
 * A frame whose route waits for an AFT check (the sealed data of a client re-pinning its
 * channel, a replica's SecureAccept) may finish after its sender's connection closed and was
 * torn down. Whatever it would leave then (a pin, an in-flight entry, a forwarded record) no
 * teardown removes: an insider sending such frames and leaving at once made the sentinel keep
 * them for ever (in-flight entries with a deadline of its choosing).
 */

const backend = defaultBackend();
const MATH = "math@fame.fabric";

/** a replica serving MATH and a client whose open of channel "a" reached it */
async function openedChannel() {
  const stickiness = new AFTLoadBalancerStickinessManager({ securityLevel: "strict" });
  const s = makeSentinel("overlay", stickiness, 100);
  const r = await attachNode(s, "r", ["*.fame.fabric"], "overlay");
  await r.send({ frame: { type: "AddressBind", address: MATH } });
  const c = await attachNode(s, "c", [], "overlay");
  const replyTo = `rpc@${c.session.path}`;
  const ephPub = base64urlEncode(backend.x25519Keygen().publicKey);
  await c.send({
    to: MATH,
    replyTo,
    corrId: "a",
    frame: { type: "SecureOpen", cid: "a", ephPub, alg: "CHACHA20P1305" },
  });
  return { s, r, c, replyTo, ephPub, stickiness };
}

/** the same, accepted and pinned */
async function pinnedChannel() {
  const { s, r, c, replyTo, ephPub, stickiness } = await openedChannel();
  const accept = await acceptChannel(r, c, "a", ephPub, "a");
  const aft = (accept.frame as { aft: string }).aft;
  expect(stickiness.metrics().size).toBe(1);
  return { s, r, c, replyTo, ephPub, aft, stickiness };
}

/** sealed channel data on `cid` echoing `aft` (ciphertext the sentinel never reads) */
function sealedData(sid: string, replyTo: string, cid: string, aft: string, corrId: string): Envelope {
  return makeEnvelope({
    sid,
    to: MATH,
    replyTo,
    corrId,
    ttlMs: 9e15,
    aft,
    frame: { type: "Data", codec: "enc", ct: base64urlEncode(backend.randomBytes(32)) },
    sec: { enc: { alg: "chacha20-poly1305-channel", cid, seq: 1, kid: "k1", ac: "AAECAwQFBgc" } },
  });
}

describe("a sender that leaves while its frame's route is checked", () => {
  it("re-pins nothing and forwards nothing for a client gone during its AFT check", async () => {
    const { s, r, c, replyTo, aft, stickiness } = await pinnedChannel();
    // the pin goes (the client closes the channel), so its next record is routed by its AFT
    await c.send({ to: MATH, frame: { type: "SecureClose", cid: "a" } });
    expect(stickiness.metrics().size).toBe(0);
    const before = r.link.frames("Data").length;
    const routing = s.receive(
      c.session,
      Buffer.from(encodeEnvelope(sealedData(c.session.sid, replyTo, "a", aft, "call1"))),
    );
    expect(routing).toBeInstanceOf(Promise);
    s.close(c.session, "left");
    await routing;
    expect(stickiness.metrics().size).toBe(0);
    expect(r.link.frames("Data")).toHaveLength(before);
    expect(s.inflight.size).toBe(0);
  });

  it("still re-pins and forwards for a client that stays (the same frame)", async () => {
    const { s, r, c, replyTo, aft, stickiness } = await pinnedChannel();
    await c.send({ to: MATH, frame: { type: "SecureClose", cid: "a" } });
    const before = r.link.frames("Data").length;
    await s.receive(
      c.session,
      Buffer.from(encodeEnvelope(sealedData(c.session.sid, replyTo, "a", aft, "call1"))),
    );
    expect(stickiness.metrics().size).toBe(1);
    expect(r.link.frames("Data")).toHaveLength(before + 1);
    expect(s.inflight.size).toBe(1);
    // its ttlMs asked for ~285,000 years: the entry expires within the hour all the same
    expect(s.inflight.sweep(Date.now() + 60 * 60_000 + 1000)).toBe(1);
    expect(s.inflight.size).toBe(0);
  });

  it("keeps no pin for a channel whose client left while the replica's accept was checked", async () => {
    const { s, r, c, replyTo, ephPub, stickiness } = await openedChannel();
    const aft = await issueAft(r, c, "a");
    // the accept is handed over (its AFT check under way) when the client goes
    const accepting = r.send({
      to: replyTo,
      corrId: "a",
      frame: { type: "SecureAccept", cid: "a", ok: true, ephPub, aft },
    });
    s.close(c.session, "left");
    await accepting;
    expect(stickiness.metrics().size).toBe(0);
  });
});
