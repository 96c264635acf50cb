import { defaultBackend } from "@fame/crypto";
import type { Admission } from "@fame/identity";
import {
  base64urlDecode,
  base64urlEncode,
  batchOf,
  type Envelope,
  ERROR_CODES,
  encodeEnvelope,
  type Jwk,
  newId,
  type SecureAccept,
  signingInput,
} from "@fame/protocol";
import { NodeSigner, SecureChannel } from "@fame/sdk";
import { type FabricStack, pidAlive, startFabricStack, stopAll } from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Attacker, type EnvelopeSigner } from "./support/attacker.js";
import { admitRaw, certificateFor, foreignIssuer, instanceOf, issuerOf } from "./support/identities.js";
import { LegitTraffic } from "./support/legit-traffic.js";
import { MiB, rssBytes } from "./support/process-memory.js";

/**
 * Attacks on identity and channels against the whole fabric (strict-overlay,
 * channel encryption, real OAuth2/Welcome/CA/sentinel/replicas): replayed
 * tickets, bad certificates, keys the attacker does not hold, forged
 * signatures, channel-id hijack, replayed/reordered/tampered channel records.
 * A legitimate client calls throughout; every one of its calls must succeed.
 */
const backend = defaultBackend();
let stack: FabricStack;
let legit: LegitTraffic;
let rssAtStart = 0;
const attackers: Attacker[] = [];

async function connect(): Promise<Attacker> {
  const a = await Attacker.connect({ url: stack.urls.attach, ca: stack.trustBundle });
  attackers.push(a);
  return a;
}

/** attach with an admission's ticket, presenting `cert` (default: the real one) and signing with `signer` */
async function attachWith(
  adm: Admission,
  opts: { signer?: EnvelopeSigner; keys?: Jwk[] } = {},
): Promise<{ a: Attacker; ack: Awaited<ReturnType<Attacker["attach"]>> }> {
  const a = await connect();
  a.signer = opts.signer ?? new NodeSigner(adm.seed, adm.x5c);
  const ack = await a.attach({
    systemId: adm.systemId,
    instanceId: instanceOf(adm),
    attachTicket: adm.attachTicket,
    logicals: [],
    ...(opts.keys ? { keys: opts.keys } : {}),
  });
  return { a, ack };
}

async function expectRefused(a: Attacker, ack: { ok: boolean; code?: string }, code: string) {
  expect(ack).toMatchObject({ ok: false, code });
  expect((await a.closed).code).toBe(1008);
}

beforeAll(async () => {
  stack = await startFabricStack({ securityProfile: "strict-overlay", encryption: "channel" });
  await stack.startReplica("replica1");
  await stack.startReplica("replica2");
  legit = await LegitTraffic.connect(stack.nodeEnv);
  for (let i = 0; i < 10; i++) await legit.callOnce();
  expect((await legit.stop()).failures).toEqual([]);
  rssAtStart = rssBytes(stack.sentinel.pid);
}, 120_000);

afterAll(async () => {
  for (const a of attackers) await a.close();
  await legit?.close();
  if (stack) {
    const rss = rssBytes(stack.sentinel.pid);
    console.log(`sentinel RSS: ${(rssAtStart / MiB).toFixed(1)} MiB → ${(rss / MiB).toFixed(1)} MiB`);
    expect(rss - rssAtStart).toBeLessThan(150 * MiB);
  }
  const pids = stack?.allPids() ?? [];
  await stack?.stop();
  await stopAll();
  for (const pid of pids) expect(pidAlive(pid)).toBe(false);
});

describe("attach tickets", () => {
  it("refuses a replayed ticket, while the first connection lives and after it is gone", async () => {
    await legit.during(async () => {
      const adm = await admitRaw(stack.nodeEnv);
      const first = await attachWith(adm);
      expect(first.ack.ok).toBe(true);
      const again = await attachWith(adm);
      await expectRefused(again.a, again.ack, "ticket_replayed");
      await first.a.close();
      const later = await attachWith(adm);
      await expectRefused(later.a, later.ack, "ticket_replayed");
    });
  });

  it("refuses a ticket presented for another node's identity, and a garbage ticket", async () => {
    await legit.during(async () => {
      const mine = await admitRaw(stack.nodeEnv);
      const theirs = await admitRaw(stack.nodeEnv);
      // my ticket with their certificate and key: the certificate names another node
      const a = await connect();
      a.signer = new NodeSigner(theirs.seed, theirs.x5c);
      const ack = await a.attach({
        systemId: mine.systemId,
        instanceId: instanceOf(mine),
        attachTicket: mine.attachTicket,
      });
      await expectRefused(a, ack, "cert_invalid");
      const b = await connect();
      b.signer = new NodeSigner(mine.seed, mine.x5c);
      const forged = `${mine.attachTicket.slice(0, -8)}AAAAAAAA`;
      await expectRefused(
        b,
        await b.attach({ systemId: mine.systemId, instanceId: instanceOf(mine), attachTicket: forged }),
        "ticket_invalid",
      );
    });
  });
});

describe("certificates and key possession", () => {
  it("refuses expired, not-yet-valid and foreign-CA certificates without burning the ticket", async () => {
    await legit.during(async () => {
      const adm = await admitRaw(stack.nodeEnv);
      const hour = 3600_000;
      const bad = [
        await certificateFor(adm, issuerOf(stack.dir), { now: new Date(Date.now() - 3 * hour) }),
        await certificateFor(adm, issuerOf(stack.dir), { now: new Date(Date.now() + 2 * hour) }),
        await certificateFor(adm, await foreignIssuer()),
      ];
      for (const cert of bad) {
        const { a, ack } = await attachWith(adm, { signer: new NodeSigner(cert.seed, cert.x5c) });
        await expectRefused(a, ack, "cert_invalid");
      }
      // none of those consumed the ticket: its owner still attaches with it
      const owner = await attachWith(adm);
      expect(owner.ack.ok).toBe(true);
    });
  });

  it("refuses a copied certificate from a node that does not hold its key", async () => {
    await legit.during(async () => {
      const victim = await admitRaw(stack.nodeEnv);
      const thief = NodeSigner.generate();
      const stolenJwk = new NodeSigner(victim.seed, victim.x5c).jwk;
      // the victim's key id and certificate, but a signature only the thief's key could make
      const forger: EnvelopeSigner = {
        kid: stolenJwk.kid,
        jwk: stolenJwk,
        sign(env) {
          const val = base64urlEncode(thief.signBytes(signingInput(env)));
          env.sec = { ...env.sec, sig: { alg: "EdDSA", kid: stolenJwk.kid, val } };
          return env;
        },
      };
      const one = await attachWith(victim, { signer: forger, keys: [stolenJwk] });
      await expectRefused(one.a, one.ack, "signature_invalid");
      // signed with its own key, which it presents without a certificate
      const two = await attachWith(victim, { signer: thief, keys: [stolenJwk, thief.jwk] });
      await expectRefused(two.a, two.ack, "cert_invalid");
      // not signed at all
      const three = await connect();
      await three.sendText(
        encodeEnvelope({
          v: 1,
          id: newId(),
          sid: "pending",
          ts: Date.now(),
          frame: {
            type: "NodeAttach",
            systemId: victim.systemId,
            instanceId: instanceOf(victim),
            attachTicket: victim.attachTicket,
            logicals: [],
            keys: [stolenJwk],
          },
        }),
      );
      const ack = (await three.waitFor((e) => e.frame.type === "NodeAttachAck")).frame;
      await expectRefused(three, ack as { ok: boolean; code?: string }, "signature_missing");
      // the victim's ticket survived all three
      expect((await attachWith(victim)).ack.ok).toBe(true);
    });
  });
});

describe("key ids", () => {
  it("refuses an insider's own certified key named with another node's key id; the owner keeps its id", async () => {
    await legit.during(async () => {
      const owner = await admitRaw(stack.nodeEnv);
      const ownerSigner = new NodeSigner(owner.seed, owner.x5c);
      const { a: ownerNode, ack: ownerAck } = await attachWith(owner);
      expect(ownerAck.ok).toBe(true);
      // mallory's key and certificate are genuine; only the id is the owner's
      const mallory = await admitRaw(stack.nodeEnv);
      const own = new NodeSigner(mallory.seed, mallory.x5c);
      const squatted: Jwk = { ...own.jwk, kid: ownerSigner.kid };
      const squatter: EnvelopeSigner = {
        kid: ownerSigner.kid,
        jwk: squatted,
        sign(env) {
          const val = base64urlEncode(own.signBytes(signingInput(env)));
          env.sec = { ...env.sec, sig: { alg: "EdDSA", kid: ownerSigner.kid, val } };
          return env;
        },
      };
      const refused = await attachWith(mallory, { signer: squatter, keys: [squatted] });
      await expectRefused(refused.a, refused.ack, "bad_envelope");
      // the sentinel still hands out the owner's key for its id, and mallory's ticket is unspent
      const ask = await ownerNode.send({
        replyTo: ownerNode.replyTo,
        frame: { type: "KeyRequest", kid: ownerSigner.kid },
      });
      const announce = await ownerNode.waitFor((e) => e.frame.type === "KeyAnnounce" && e.corrId === ask.id);
      expect(announce.frame).toMatchObject({
        sid: ownerNode.sid,
        keys: [{ kid: ownerSigner.kid, x: ownerSigner.jwk.x }],
      });
      expect((await attachWith(mallory)).ack.ok).toBe(true);
    });
  });
});

describe("after attach", () => {
  let d: Attacker;

  beforeAll(async () => {
    const adm = await admitRaw(stack.nodeEnv);
    ({ a: d } = await attachWith(adm));
    expect(d.sid).not.toBe("pending");
  });

  it("refuses unsigned, forged, tampered, unknown-key and wrong-sid envelopes", async () => {
    await legit.during(async () => {
      const data = {
        type: "Data" as const,
        codec: "json" as const,
        payload: { jsonrpc: "2.0", id: 1, method: "whoami" },
      };
      const base = { to: "math@fame.fabric", replyTo: d.replyTo, frame: data };
      const unsigned = d.envelope({ ...base, corrId: newId() }, false);
      const forged = d.envelope({ ...base, corrId: newId() }, false);
      forged.sec = {
        sig: { alg: "EdDSA", kid: d.signer!.kid, val: base64urlEncode(new Uint8Array(64).fill(1)) },
      };
      const tampered = d.envelope({ ...base, corrId: newId() });
      tampered.to = "admin@fame.fabric";
      const unknownKey = d.envelope({ ...base, corrId: newId() }, false);
      NodeSigner.generate().sign(unknownKey);
      const wrongSid = d.envelope({ ...base, corrId: newId() });
      wrongSid.sid = "SomeoneElse";
      const cases: [Envelope, string][] = [
        [unsigned, "signature_missing"],
        [forged, "signature_invalid"],
        [tampered, "signature_invalid"],
        [unknownKey, "key_unknown"],
        [wrongSid, "not_authorized"],
      ];
      for (const [env, code] of cases) {
        await d.sendText(encodeEnvelope(env));
        expect((await d.nackFor(env.id)).frame).toMatchObject({ code });
      }
    });
  });

  it("answers no_route for addresses nobody serves", async () => {
    await legit.during(async () => {
      for (const to of ["ghost@fame.fabric", "rpc@/sentinel0/nobody", "math@evil.example"]) {
        const env = await d.send({
          to,
          replyTo: d.replyTo,
          corrId: newId(),
          frame: { type: "Data", codec: "json", payload: 1 },
        });
        expect((await d.nackFor(env.id)).frame).toMatchObject({ code: "no_route" });
      }
    });
  });

  it("refuses another client's channel id (data, open, close) with channel_conflict; the owner keeps its channel", async () => {
    await legit.during(async () => {
      const victim = await legit.fabric.node.channels.forAddress("math@fame.fabric");
      const opened = legit.fabric.node.channels.metrics.opened;
      const sealedLike = await d.send({
        to: "math@fame.fabric",
        replyTo: d.replyTo,
        corrId: newId(),
        frame: { type: "Data", codec: "enc", ct: base64urlEncode(new Uint8Array(48)) },
        sec: {
          enc: { alg: "chacha20-poly1305-channel", cid: victim.cid, seq: 7, kid: "k0", ac: "AAAAAAAAAAA" },
        },
      });
      const open = await d.send({
        to: "math@fame.fabric",
        replyTo: d.replyTo,
        corrId: victim.cid,
        frame: {
          type: "SecureOpen",
          cid: victim.cid,
          ephPub: base64urlEncode(backend.x25519Keygen().publicKey),
          alg: "CHACHA20P1305",
        },
      });
      const close = await d.send({ to: "math@fame.fabric", frame: { type: "SecureClose", cid: victim.cid } });
      for (const env of [sealedLike, open, close])
        expect((await d.nackFor(env.id)).frame).toMatchObject({ code: "channel_conflict" });
      for (let i = 0; i < 5; i++) await legit.callOnce();
      expect(legit.fabric.node.channels.metrics.opened).toBe(opened);
      expect((await legit.fabric.node.channels.forAddress("math@fame.fabric")).cid).toBe(victim.cid);
    });
  });

  it("accepts reordered channel records within the window, refuses replayed and tampered ones", async () => {
    await legit.during(async () => {
      const chA = await openChannel(d);
      const chB = await openChannel(d);
      const call = (ch: SecureChannel, x: number) => {
        const corrId = newId();
        const env: Envelope = d.envelope(
          {
            to: "math@fame.fabric",
            replyTo: d.replyTo,
            corrId,
            frame: { type: "Data", codec: "json", payload: null },
          },
          false,
        );
        ch.seal(env, { jsonrpc: "2.0", id: corrId, method: "add", params: { x, y: 100 } });
        d.signer!.sign(env);
        return env;
      };
      const [r1, r2, r3] = [call(chA, 1), call(chA, 2), call(chA, 3)];
      // sent out of order: 1, 3, 2
      for (const env of [r1, r3, r2]) await d.sendText(encodeEnvelope(env));
      // the replica may answer them in one coalesced record or in several
      const answers = await answersOn(d, chA, [r1.corrId!, r2.corrId!, r3.corrId!]);
      for (const [env, x] of [
        [r1, 1],
        [r2, 2],
        [r3, 3],
      ] as const) {
        expect(answers.get(env.corrId!)).toMatchObject({ result: x + 100 });
      }
      // the same record again, byte for byte
      await d.sendText(encodeEnvelope(r2));
      expect((await d.nackFor(r2.id)).frame).toMatchObject({ code: "replay" });
      // a flipped ciphertext bit (re-signed, should anyone check): only the channel layer can notice
      const tampered = call(chA, 4);
      const frame = tampered.frame;
      if (frame.type !== "Data" || frame.codec !== "enc") throw new Error("not sealed");
      const ct = base64urlDecode(frame.ct);
      ct[5] = ct[5]! ^ 1;
      frame.ct = base64urlEncode(ct);
      d.signer!.sign(tampered);
      await d.sendText(encodeEnvelope(tampered));
      expect((await d.nackFor(tampered.id)).frame).toMatchObject({ code: "decrypt_failed" });
      // channel A's record under channel B's id: B's keys cannot open it
      const crossed = call(chA, 5);
      crossed.sec = { enc: { ...crossed.sec!.enc!, cid: chB.cid } };
      d.signer!.sign(crossed);
      await d.sendText(encodeEnvelope(crossed));
      expect((await d.nackFor(crossed.id)).frame).toMatchObject({ code: "decrypt_failed" });
      // the channel still works after all that
      const r6 = call(chA, 6);
      await d.sendText(encodeEnvelope(r6));
      expect((await answersOn(d, chA, [r6.corrId!])).get(r6.corrId!)).toMatchObject({ result: 106 });
      for (const e of d.received)
        if (e.frame.type === "DeliveryAck" && !e.frame.ok) expect(ERROR_CODES).toContain(e.frame.code);
    });
  });
});

/**
 * The replica's answers to `corrIds` on `ch`, by corrId, whether they came one per record or
 * coalesced into fewer (a record is opened once: opening it again would be a replay).
 */
async function answersOn(d: Attacker, ch: SecureChannel, corrIds: string[]): Promise<Map<string, unknown>> {
  const wanted = new Set(corrIds);
  const opened = new Set<string>();
  const out = new Map<string, unknown>();
  const carries = (e: Envelope) =>
    wanted.has(e.corrId ?? "") || (batchOf(e) ?? []).some((entry) => wanted.has(entry.corrId));
  // at most one record per answer
  for (let i = 0; i < corrIds.length && out.size < wanted.size; i++) {
    const env = await d.waitFor((e) => e.frame.type === "Data" && !opened.has(e.id) && carries(e));
    opened.add(env.id);
    const payload = ch.open(env);
    const batch = batchOf(env);
    if (batch === undefined) out.set(env.corrId!, payload);
    else for (let k = 0; k < batch.length; k++) out.set(batch[k]!.corrId, (payload as unknown[])[k]);
  }
  return out;
}

/** the client half of a channel handshake, by hand */
async function openChannel(a: Attacker): Promise<SecureChannel> {
  const eph = backend.x25519Keygen();
  const cid = newId();
  await a.send({
    to: "math@fame.fabric",
    replyTo: a.replyTo,
    corrId: cid,
    frame: { type: "SecureOpen", cid, ephPub: base64urlEncode(eph.publicKey), alg: "CHACHA20P1305" },
  });
  const accept = (await a.waitFor(
    (e) => e.frame.type === "SecureAccept" && e.frame.cid === cid,
  )) as Envelope<SecureAccept>;
  expect(accept.frame.ok).toBe(true);
  const replicaEph = base64urlDecode(accept.frame.ephPub!);
  return new SecureChannel(cid, "client", accept.sid, "math@fame.fabric", {
    backend,
    sharedSecret: backend.x25519SharedSecret(eph.secretKey, replicaEph),
    clientEphPub: eph.publicKey,
    replicaEphPub: replicaEph,
    clientSid: a.sid,
    replicaSid: accept.sid,
    now: Date.now(),
  });
}
