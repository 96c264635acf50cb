import { defaultBackend } from "@fame/crypto";
import { base64urlEncode, makeEnvelope, signingInput } from "@fame/protocol";
import { describe, expect, it } from "vitest";
import { attachNode, makeSentinel } from "./test-node.js";

/**
 * A node replaying its own signed request: each replica of a pool remembers only what it
 * received, so the copies must be stopped where they all pass, at the sentinel.
 */
describe("sentinel: freshness of signed envelopes", () => {
  it("refuses a byte-identical signed request sent again, so no second replica runs it", async () => {
    const s = makeSentinel("overlay");
    const r1 = await attachNode(s, "r1", ["*.fame.fabric"], "overlay");
    const r2 = await attachNode(s, "r2", ["*.fame.fabric"], "overlay");
    const c = await attachNode(s, "c", [], "overlay");
    await r1.send({ frame: { type: "AddressBind", address: "math@fame.fabric" } });
    await r2.send({ frame: { type: "AddressBind", address: "math@fame.fabric" } });
    const first = await c.send({
      to: "math@fame.fabric",
      frame: { type: "Data", codec: "json", payload: 1 },
    });
    await c.sendRaw(first);
    await c.sendRaw(first);
    expect(r1.link.frames("Data").length + r2.link.frames("Data").length).toBe(1);
    expect(c.link.last().frame).toMatchObject({ type: "DeliveryAck", ok: false, code: "replay" });
    expect(c.link.last().meta).toMatchObject({ notExecuted: true });
    expect(s.counters.replayRefused).toBe(2);
    // a new envelope (new id) from the same node still goes through
    await c.send({ to: "math@fame.fabric", frame: { type: "Data", codec: "json", payload: 2 } });
    expect(r1.link.frames("Data").length + r2.link.frames("Data").length).toBe(2);
  });

  it("refuses a signed envelope whose ts is outside the clock-skew window", async () => {
    const s = makeSentinel("overlay");
    const r = await attachNode(s, "r", ["*.fame.fabric"], "overlay");
    const c = await attachNode(s, "c", [], "overlay");
    await r.send({ frame: { type: "AddressBind", address: "math@fame.fabric" } });
    const backend = defaultBackend();
    const key = backend.ed25519ImportSigningKey(c.seed);
    for (const skew of [-10 * 60_000, 10 * 60_000]) {
      const env = makeEnvelope({
        sid: c.session.sid,
        to: "math@fame.fabric",
        frame: { type: "Data", codec: "json", payload: 1 },
      });
      env.ts += skew;
      env.sec = {
        sig: { alg: "EdDSA", kid: c.kid, val: base64urlEncode(backend.ed25519Sign(key, signingInput(env))) },
      };
      await c.sendRaw(env);
      expect(c.link.last().frame).toMatchObject({ ok: false, code: "stale_envelope" });
    }
    expect(r.link.frames("Data")).toHaveLength(0);
    expect(s.counters.staleRefused).toBe(2);
  });

  it("keeps no window in the open profile, where nothing is signed", async () => {
    const s = makeSentinel("open");
    const r = await attachNode(s, "r", ["*.fame.fabric"], "open");
    const c = await attachNode(s, "c", [], "open");
    await r.send({ frame: { type: "AddressBind", address: "math@fame.fabric" } });
    const env = await c.send({ to: "math@fame.fabric", frame: { type: "Data", codec: "json", payload: 1 } });
    await c.sendRaw(env);
    expect(r.link.frames("Data")).toHaveLength(2);
    expect(s.counters.replayRefused).toBe(0);
  });
});
