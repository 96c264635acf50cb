import { defaultBackend } from "@fame/crypto";
import {
  base64urlEncode,
  type Envelope,
  ed25519KeyId,
  encodeEnvelope,
  makeEnvelope,
  signingInput,
} from "@fame/protocol";
import { AFTLoadBalancerStickinessManager } from "@fame/sentinel";
import { describe, expect, it } from "vitest";
import { FakeLink } from "./fake-link.js";
import { acceptChannel, attachNode, makeSentinel } from "./test-node.js";

const backend = defaultBackend();

describe("Sentinel core (open profile)", () => {
  it("attaches, binds pooled replicas and round-robins plain data", async () => {
    const s = makeSentinel("open");
    const r1 = await attachNode(s, "r1", ["*.fame.fabric"], "open");
    const r2 = await attachNode(s, "r2", ["*.fame.fabric"], "open");
    const c = await attachNode(s, "c1", [], "open");
    for (const r of [r1, r2]) {
      await r.send({ frame: { type: "AddressBind", address: "math@fame.fabric" } });
      expect(r.link.last().frame).toMatchObject({ type: "AddressBindAck", ok: true });
    }
    for (let i = 0; i < 4; i++) {
      await c.send({
        to: "math@fame.fabric",
        replyTo: `rpc@${c.session.path}`,
        corrId: `c${i}`,
        frame: { type: "Data", codec: "json", payload: { i } },
      });
    }
    expect(r1.link.frames("Data")).toHaveLength(2);
    expect(r2.link.frames("Data")).toHaveLength(2);
  });

  it("answers no_route for an unknown address and refuses an exclusive conflict", async () => {
    const s = makeSentinel("open");
    const a = await attachNode(s, "a", ["fame.fabric"], "open");
    const b = await attachNode(s, "b", ["*.fame.fabric"], "open");
    await a.send({ frame: { type: "AddressBind", address: "svc@fame.fabric" } });
    expect(a.link.last().frame).toMatchObject({ ok: true });
    await b.send({ frame: { type: "AddressBind", address: "svc@fame.fabric" } });
    expect(b.link.last().frame).toMatchObject({ ok: false, code: "address_conflict" });
    await b.send({
      to: "nobody@fame.fabric",
      corrId: "x",
      frame: { type: "Data", codec: "json", payload: 1 },
    });
    expect(b.link.last().frame).toMatchObject({ type: "DeliveryAck", ok: false, code: "no_route" });
    await b.send({ frame: { type: "AddressBind", address: "svc@other.domain" } });
    expect(b.link.last().frame).toMatchObject({ ok: false, code: "logical_not_granted" });
  });

  it("nacks in-flight requests with replica_unavailable when the replica leaves", async () => {
    const s = makeSentinel("open");
    const r = await attachNode(s, "r", ["*.fame.fabric"], "open");
    const c = await attachNode(s, "c", [], "open");
    await r.send({ frame: { type: "AddressBind", address: "math@fame.fabric" } });
    const req = await c.send({
      to: "math@fame.fabric",
      replyTo: `rpc@${c.session.path}`,
      corrId: "call-1",
      frame: { type: "Data", codec: "json", payload: { method: "slow" } },
    });
    s.close(r.session, "killed");
    const nack = c.link.last();
    expect(nack.frame).toMatchObject({
      type: "DeliveryAck",
      ok: false,
      code: "replica_unavailable",
      refId: req.id,
    });
    expect(nack.corrId).toBe("call-1");
  });

  it("does not nack answered requests, and bounds requests in flight per connection", async () => {
    const s = makeSentinel("open");
    const r = await attachNode(s, "r", ["*.fame.fabric"], "open");
    const c = await attachNode(s, "c", [], "open");
    await r.send({ frame: { type: "AddressBind", address: "math@fame.fabric" } });
    const replyTo = `rpc@${c.session.path}`;
    await c.send({
      to: "math@fame.fabric",
      replyTo,
      corrId: "a",
      frame: { type: "Data", codec: "json", payload: 1 },
    });
    await r.send({ to: replyTo, corrId: "a", frame: { type: "Data", codec: "json", payload: 2 } });
    expect(s.inflight.size).toBe(0);
    for (let i = 0; i < 5; i++) {
      await c.send({
        to: "math@fame.fabric",
        replyTo,
        corrId: `b${i}`,
        frame: { type: "Data", codec: "json", payload: i },
      });
    }
    expect(c.link.last().frame).toMatchObject({ ok: false, code: "too_many_inflight" });
    s.close(r.session, "gone");
    expect(
      c.link
        .frames("DeliveryAck")
        .filter((e) => (e.frame as { code?: string }).code === "replica_unavailable"),
    ).toHaveLength(4);
  });

  it("frees a client's in-flight slots when its replica leaves", async () => {
    const s = makeSentinel("open", undefined, 1);
    const r1 = await attachNode(s, "r1", ["*.fame.fabric"], "open");
    const c = await attachNode(s, "c", [], "open");
    await r1.send({ frame: { type: "AddressBind", address: "math@fame.fabric" } });
    const replyTo = `rpc@${c.session.path}`;
    const call = (corrId: string) =>
      c.send({ to: "math@fame.fabric", replyTo, corrId, frame: { type: "Data", codec: "json", payload: 1 } });
    await call("a");
    s.close(r1.session, "gone");
    expect(c.link.last().frame).toMatchObject({ code: "replica_unavailable" });
    const r2 = await attachNode(s, "r2", ["*.fame.fabric"], "open");
    await r2.send({ frame: { type: "AddressBind", address: "math@fame.fabric" } });
    await call("b");
    expect(r2.link.frames("Data")).toHaveLength(1);
    expect(s.status()["nodes"]).toContainEqual(expect.objectContaining({ systemId: "c", inflight: 1 }));
  });

  it("least_inflight sends new calls away from a replica still busy with unanswered ones", async () => {
    const s = makeSentinel("open", undefined, 64, "least_inflight");
    const stuck = await attachNode(s, "stuck", ["*.fame.fabric"], "open");
    const quick = await attachNode(s, "quick", ["*.fame.fabric"], "open");
    const c = await attachNode(s, "c", [], "open");
    for (const r of [stuck, quick])
      await r.send({ frame: { type: "AddressBind", address: "math@fame.fabric" } });
    const replyTo = `rpc@${c.session.path}`;
    for (let i = 0; i < 10; i++) {
      await c.send({
        to: "math@fame.fabric",
        replyTo,
        corrId: `q${i}`,
        frame: { type: "Data", codec: "json", payload: i },
      });
      // `quick` answers at once; `stuck` never does, so it keeps one call in flight once it has one.
      if (quick.link.last().corrId === `q${i}`)
        await quick.send({
          to: replyTo,
          corrId: `q${i}`,
          frame: { type: "Data", codec: "json", payload: 0 },
        });
    }
    expect(stuck.link.frames("Data").length).toBeLessThanOrEqual(1);
    expect(quick.link.frames("Data").length).toBeGreaterThanOrEqual(9);
    const pool = (
      s.status()["pools"] as { pools: { address: string; members: { id: string; inflight: number }[] }[] }
    ).pools.find((p) => p.address === "math@fame.fabric");
    expect(pool?.members).toContainEqual(expect.objectContaining({ id: "quick", inflight: 0 }));
    s.close(stuck.session, "gone");
    expect(s.inflight.size).toBe(0);
  });

  it("refuses a first frame that is not NodeAttach, and garbage before attach", async () => {
    const s = makeSentinel("open");
    const link = new FakeLink();
    const session = s.open(link);
    await s.receive(session, "{not json");
    expect(link.closed?.code).toBe(1008);
    const link2 = new FakeLink();
    const session2 = s.open(link2);
    await s.receive(session2, encodeEnvelope(makeEnvelope({ sid: "x", frame: { type: "Heartbeat" } })));
    expect(link2.closed?.code).toBe(1008);
    expect(s.sessionCount).toBe(0);
  });

  it("keeps serving others while one node sends 1000 malformed frames", async () => {
    const s = makeSentinel("open");
    const r = await attachNode(s, "r", ["*.fame.fabric"], "open");
    const bad = await attachNode(s, "bad", [], "open");
    const good = await attachNode(s, "good", [], "open");
    await r.send({ frame: { type: "AddressBind", address: "math@fame.fabric" } });
    for (let i = 0; i < 1000; i++) await s.receive(bad.session, `{"v":1,"garbage":${i}}`);
    expect(bad.link.frames("DeliveryAck")).toHaveLength(1000);
    await good.send({
      to: "math@fame.fabric",
      corrId: "ok",
      frame: { type: "Data", codec: "json", payload: 1 },
    });
    expect(r.link.frames("Data")).toHaveLength(1);
    expect(s.counters.badFrames).toBe(1000);
  });

  it("refuses an envelope that claims another node's sid", async () => {
    const s = makeSentinel("open");
    const a = await attachNode(s, "a", [], "open");
    const b = await attachNode(s, "b", [], "open");
    await s.receive(
      a.session,
      encodeEnvelope(makeEnvelope({ sid: b.session.sid, frame: { type: "Heartbeat" } })),
    );
    expect(a.link.last().frame).toMatchObject({ ok: false, code: "not_authorized" });
  });
});

describe("Sentinel core (overlay profile: signatures on ingress)", () => {
  it("refuses an attach not signed by the presented key", async () => {
    const s = makeSentinel("overlay");
    const link = new FakeLink();
    const session = s.open(link);
    const { publicKey } = backend.ed25519Keygen();
    const attach = makeEnvelope({
      sid: "pending",
      frame: {
        type: "NodeAttach",
        systemId: "n1",
        instanceId: "i1",
        logicals: [],
        keys: [{ kty: "OKP", crv: "Ed25519", x: base64urlEncode(publicKey), kid: ed25519KeyId(publicKey) }],
      },
    });
    await s.receive(session, encodeEnvelope(attach));
    expect(link.last().frame).toMatchObject({ type: "NodeAttachAck", ok: false, code: "signature_missing" });
    expect(link.closed?.code).toBe(1008);
  });

  /** a NodeAttach for `systemId` presenting `keys`, signed with `seed` under `sigKid` */
  function attachFrame(
    systemId: string,
    keys: Array<{ publicKey: Uint8Array; kid: string }>,
    seed: Uint8Array,
    sigKid: string,
  ) {
    const attach: Envelope = makeEnvelope({
      sid: "pending",
      frame: {
        type: "NodeAttach",
        systemId,
        instanceId: `i-${systemId}`,
        logicals: [],
        keys: keys.map((k) => ({ kty: "OKP", crv: "Ed25519", x: base64urlEncode(k.publicKey), kid: k.kid })),
      },
    });
    const key = backend.ed25519ImportSigningKey(seed);
    attach.sec = {
      sig: {
        alg: "EdDSA",
        kid: sigKid,
        val: base64urlEncode(backend.ed25519Sign(key, signingInput(attach))),
      },
    };
    return encodeEnvelope(attach);
  }

  /** the KeyAnnounce the sentinel gives `asker` for `kid` */
  async function announced(asker: Awaited<ReturnType<typeof attachNode>>, kid: string) {
    await asker.send({ replyTo: `rpc@${asker.session.path}`, frame: { type: "KeyRequest", kid } });
    return asker.link.last().frame;
  }

  it("refuses a node that names its own key with another node's key id", async () => {
    const s = makeSentinel("overlay");
    const owner = await attachNode(s, "owner", [], "overlay");
    const link = new FakeLink();
    const session = s.open(link);
    const { seed, publicKey } = backend.ed25519Keygen();
    await s.receive(session, attachFrame("squatter", [{ publicKey, kid: owner.kid }], seed, owner.kid));
    expect(link.last().frame).toMatchObject({ type: "NodeAttachAck", ok: false, code: "bad_envelope" });
    expect(link.closed?.code).toBe(1008);
    // the owner's key is still the one handed out
    expect(await announced(owner, owner.kid)).toMatchObject({ type: "KeyAnnounce", sid: owner.session.sid });
  });

  it("keeps only the key that signed the attach: a copied public key gives no hold on its id", async () => {
    const s = makeSentinel("overlay");
    const owner = await attachNode(s, "owner", [], "overlay");
    const ownerPublic = backend.ed25519ImportSigningKey(owner.seed).publicKey;
    const link = new FakeLink();
    const session = s.open(link);
    const { seed, publicKey } = backend.ed25519Keygen();
    const ownKid = ed25519KeyId(publicKey);
    await s.receive(
      session,
      attachFrame(
        "squatter",
        [
          { publicKey, kid: ownKid },
          { publicKey: ownerPublic, kid: owner.kid },
        ],
        seed,
        ownKid,
      ),
    );
    expect(link.last().frame).toMatchObject({ type: "NodeAttachAck", ok: true });
    expect(await announced(owner, owner.kid)).toMatchObject({ type: "KeyAnnounce", sid: owner.session.sid });
    // the owner re-attaches (a new connection, as after a network blip): its id is still its own
    const again = await attachNode(s, "owner", [], "overlay", new FakeLink(), [], owner.seed);
    expect(again.kid).toBe(owner.kid);
  });

  it("refuses an attach presenting only another node's public key (no possession)", async () => {
    const s = makeSentinel("overlay");
    const owner = await attachNode(s, "owner", [], "overlay");
    const ownerPublic = backend.ed25519ImportSigningKey(owner.seed).publicKey;
    const link = new FakeLink();
    const session = s.open(link);
    const { seed } = backend.ed25519Keygen();
    await s.receive(
      session,
      attachFrame("squatter", [{ publicKey: ownerPublic, kid: owner.kid }], seed, owner.kid),
    );
    expect(link.last().frame).toMatchObject({ type: "NodeAttachAck", ok: false, code: "signature_invalid" });
  });

  it("drops unsigned and forged envelopes with a typed nack", async () => {
    const s = makeSentinel("overlay");
    const r = await attachNode(s, "r", ["*.fame.fabric"], "overlay");
    const c = await attachNode(s, "c", [], "overlay");
    await r.send({ frame: { type: "AddressBind", address: "math@fame.fabric" } });
    const unsigned = makeEnvelope({
      sid: c.session.sid,
      to: "math@fame.fabric",
      frame: { type: "Data", codec: "json", payload: 1 },
    });
    await s.receive(c.session, encodeEnvelope(unsigned));
    expect(c.link.last().frame).toMatchObject({ ok: false, code: "signature_missing" });
    const forged = await (async () => {
      const env = makeEnvelope({
        sid: c.session.sid,
        to: "math@fame.fabric",
        frame: { type: "Data", codec: "json", payload: 1 },
      });
      env.sec = { sig: { alg: "EdDSA", kid: c.kid, val: base64urlEncode(new Uint8Array(64).fill(7)) } };
      return env;
    })();
    await s.receive(c.session, encodeEnvelope(forged));
    expect(c.link.last().frame).toMatchObject({ ok: false, code: "signature_invalid" });
    expect(r.link.frames("Data")).toHaveLength(0);
    await c.send({ to: "math@fame.fabric", frame: { type: "Data", codec: "json", payload: 1 } });
    expect(r.link.frames("Data")).toHaveLength(1);
  });

  it("pins a channel by its AFT in strict stickiness and refuses unpinned channel data", async () => {
    const stickiness = new AFTLoadBalancerStickinessManager({ securityLevel: "strict" });
    const s = makeSentinel("overlay", stickiness, 100);
    const r1 = await attachNode(s, "r1", ["*.fame.fabric"], "overlay");
    const r2 = await attachNode(s, "r2", ["*.fame.fabric"], "overlay");
    const c = await attachNode(s, "c", [], "overlay");
    for (const r of [r1, r2]) await r.send({ frame: { type: "AddressBind", address: "math@fame.fabric" } });
    const replyTo = `rpc@${c.session.path}`;
    const ephPub = base64urlEncode(backend.x25519Keygen().publicKey);
    await c.send({
      to: "math@fame.fabric",
      replyTo,
      corrId: "open1",
      frame: { type: "SecureOpen", cid: "ch1", ephPub, alg: "CHACHA20P1305" },
    });
    const chosen = r1.link.frames("SecureOpen").length === 1 ? r1 : r2;
    const other = chosen === r1 ? r2 : r1;
    await acceptChannel(chosen, c, "ch1", ephPub, "open1");
    expect(c.link.frames("SecureAccept")).toHaveLength(1);
    expect(s.inflight.size).toBe(0);
    const sealed = (seq: number) => ({
      to: "math@fame.fabric",
      replyTo,
      corrId: `d${seq}`,
      frame: { type: "Data" as const, codec: "enc" as const, ct: base64urlEncode(new Uint8Array(32)) },
      sec: {
        enc: { alg: "chacha20-poly1305-channel" as const, cid: "ch1", seq, kid: "k", ac: "AAAAAAAAAAA" },
      },
    });
    for (let i = 1; i <= 10; i++) await c.send(sealed(i));
    expect(chosen.link.frames("Data")).toHaveLength(10);
    expect(other.link.frames("Data")).toHaveLength(0);
    // another client using the same cid is refused, the owner is unaffected
    const thief = await attachNode(s, "thief", [], "overlay");
    await thief.send({ ...sealed(99), replyTo: `rpc@${thief.session.path}` });
    expect(thief.link.last().frame).toMatchObject({ ok: false, code: "channel_conflict" });
    // data for a channel nobody accepted
    await c.send({
      ...sealed(1),
      sec: { enc: { alg: "chacha20-poly1305-channel", cid: "nochan", seq: 1, kid: "k", ac: "AAAAAAAAAAA" } },
    });
    expect(c.link.last().frame).toMatchObject({ ok: false, code: "channel_unknown" });
    // the pinned replica leaves: the pin goes with it
    s.close(chosen.session, "killed");
    await c.send(sealed(11));
    expect(c.link.last().frame).toMatchObject({ ok: false, code: "channel_unknown" });
    expect(other.link.frames("Data")).toHaveLength(0);
  });

  it("routes unsigned channel data from the sender's own session as received; plaintext still needs a signature", async () => {
    const stickiness = new AFTLoadBalancerStickinessManager({ securityLevel: "strict" });
    const s = makeSentinel("overlay", stickiness, 100);
    const r = await attachNode(s, "r1", ["*.fame.fabric"], "overlay");
    const c = await attachNode(s, "c", [], "overlay");
    await r.send({ frame: { type: "AddressBind", address: "math@fame.fabric" } });
    const replyTo = `rpc@${c.session.path}`;
    const ephPub = base64urlEncode(backend.x25519Keygen().publicKey);
    await c.send({
      to: "math@fame.fabric",
      replyTo,
      corrId: "open1",
      frame: { type: "SecureOpen", cid: "ch1", ephPub, alg: "CHACHA20P1305" },
    });
    await acceptChannel(r, c, "ch1", ephPub, "open1");
    const forwarded: string[] = [];
    const deliver = r.link.send.bind(r.link);
    r.link.send = (data) => {
      forwarded.push(data.toString());
      deliver(data);
    };
    const sealed = (sid: string, seq: number) =>
      makeEnvelope({
        sid,
        to: "math@fame.fabric",
        replyTo,
        corrId: `d${seq}`,
        frame: { type: "Data", codec: "enc", ct: base64urlEncode(new Uint8Array(32)) },
        sec: { enc: { alg: "chacha20-poly1305-channel", cid: "ch1", seq, kid: "k", ac: "AAAAAAAAAAA" } },
      });
    const text = encodeEnvelope(sealed(c.session.sid, 1));
    await s.receive(c.session, Buffer.from(text));
    expect(r.link.frames("Data")).toHaveLength(1);
    expect(forwarded.at(-1)).toBe(text);
    // the same frame under another node's sid never reaches routing
    await s.receive(c.session, encodeEnvelope(sealed(r.session.sid, 2)));
    expect(c.link.last().frame).toMatchObject({ ok: false, code: "not_authorized" });
    // plaintext Data is signed or refused
    const plain = makeEnvelope({
      sid: c.session.sid,
      to: "math@fame.fabric",
      replyTo,
      corrId: "p1",
      frame: { type: "Data", codec: "json", payload: 1 },
    });
    await s.receive(c.session, encodeEnvelope(plain));
    expect(c.link.last().frame).toMatchObject({ ok: false, code: "signature_missing" });
    expect(r.link.frames("Data")).toHaveLength(1);
  });
});
