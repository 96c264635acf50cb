import { X509Certificate } from "node:crypto";
import { defaultBackend } from "@fame/crypto";
import { base64urlEncode, type Envelope, newId } from "@fame/protocol";
import { NodeSigner } from "@fame/sdk";
import { type FabricStack, pidAlive, startFabricStack, stopAll } from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Attacker } from "./support/attacker.js";
import { LegitTraffic } from "./support/legit-traffic.js";
import { admitWithTtl } from "./support/short-cert.js";

/**
 * Audit round 15 (MEDIUM, reproduced): a credential holder sheds its principal at a replica.
 * Each of three processes holds a long certificate and presents a second, 60 s one beside it
 * (KeyUpdate; any holder may ask the CA for 60 s). A replica named a sender by the key it
 * learned last, and forgot the sender's identity when that key expired, although the other
 * was valid; the sentinel still routed frames signed with the expired key. One such frame
 * each, and the processes' channel opens carried no principal: they took the whole table, and
 * a client of another credential found no channel.
 *
 * Now the sentinel refuses a frame signed with a key past its certificate (key_unknown) and
 * forgets such keys, and a replica keeps a node's identity while any key of it lives: the
 * flood stops at the principal's share, and the newcomer is served. ~70 s (a 60 s certificate
 * has to expire).
 */
const MATH = "math@fame.fabric";
const TABLE = 12;
const PEER_CHANNELS = 4;
const PRINCIPAL_CHANNELS = (TABLE * 3) / 4;
const HOGS = 3;
const backend = defaultBackend();
const ephPub = () => base64urlEncode(backend.x25519Keygen().publicKey);

let stack: FabricStack;
let legit: LegitTraffic;
const attackers: Attacker[] = [];
const others: LegitTraffic[] = [];

interface Hog {
  a: Attacker;
  long: NodeSigner;
  short: NodeSigner;
  shortNotAfter: number;
}

/** a process of the agent credential: attached with a long certificate, holding a 60 s one too */
async function hog(): Promise<Hog> {
  const instanceId = `shed_${newId().replace(/[-_]/g, "x").slice(0, 12)}`;
  const admLong = await admitWithTtl(stack.nodeEnv, instanceId, 3600);
  const admShort = await admitWithTtl(stack.nodeEnv, instanceId, 60);
  expect(admShort.systemId).toBe(admLong.systemId);
  const a = await Attacker.connect({ url: stack.urls.attach, ca: stack.trustBundle });
  attackers.push(a);
  const long = new NodeSigner(admLong.seed, admLong.x5c);
  const short = new NodeSigner(admShort.seed, admShort.x5c);
  a.signer = long;
  const ack = await a.attach({
    systemId: admLong.systemId,
    instanceId,
    attachTicket: admLong.attachTicket,
    logicals: admLong.acceptedLogicals,
  });
  expect(ack.ok).toBe(true);
  const shortNotAfter = new Date(
    new X509Certificate(Buffer.from(admShort.x5c[0]!, "base64")).validTo,
  ).getTime();
  return { a, long, short, shortNotAfter };
}

/** a SecureOpen to MATH signed by `signer`; the answer (an accept, a refusal or the sentinel's nack) */
async function open(h: Hog, signer: NodeSigner): Promise<Envelope> {
  h.a.signer = signer;
  const cid = newId();
  await h.a.send({
    to: MATH,
    replyTo: h.a.replyTo,
    corrId: cid,
    frame: { type: "SecureOpen", cid, ephPub: ephPub(), alg: "CHACHA20P1305" },
  });
  h.a.signer = h.long;
  return h.a.waitFor(
    (e) => e.corrId === cid && (e.frame.type === "SecureAccept" || e.frame.type === "DeliveryAck"),
    15_000,
  );
}

const accepted = (e: Envelope) => e.frame.type === "SecureAccept" && e.frame.ok === true;

beforeAll(async () => {
  stack = await startFabricStack({
    securityProfile: "strict-overlay",
    encryption: "channel",
    agentEnv: {
      FAME_MAX_ACCEPTED_CHANNELS: String(TABLE),
      FAME_MAX_CHANNELS_PER_PEER: String(PEER_CHANNELS),
    },
  });
  await stack.startReplica("replica1");
  legit = await LegitTraffic.connect(stack.clientEnv);
  for (let i = 0; i < 3; i++) await legit.callOnce();
  expect((await legit.stop()).failures).toEqual([]);
}, 180_000);

afterAll(async () => {
  for (const a of attackers) await a.close();
  for (const o of others) await o.close().catch(() => {});
  await legit?.close();
  const pids = stack?.allPids() ?? [];
  await stack?.stop();
  await stopAll();
  for (const pid of pids) expect(pidAlive(pid)).toBe(false);
}, 60_000);

describe("a principal's processes holding a second, short-lived key", () => {
  it("cannot shed their principal when it expires: the flood stops at the principal's share", async () => {
    const hogs = await Promise.all(Array.from({ length: HOGS }, () => hog()));
    for (const h of hogs) {
      // the replica learns the long key, then the short one (presented with KeyUpdate)
      const first = await open(h, h.long);
      expect(accepted(first)).toBe(true);
      const ku = await h.a.send({ frame: { type: "KeyUpdate", keys: [h.short.jwk] } });
      const kuAck = await h.a.waitFor((e) => e.frame.type === "DeliveryAck" && e.frame.refId === ku.id);
      expect(kuAck.frame).toMatchObject({ ok: true });
      const second = await open(h, h.short);
      expect(accepted(second)).toBe(true);
      for (const e of [first, second])
        await h.a.send({ to: MATH, frame: { type: "SecureClose", cid: (e.frame as { cid: string }).cid } });
    }
    // the short certificates expire (the time has to pass; heartbeats keep the hogs attached)
    const until = Math.max(...hogs.map((h) => h.shortNotAfter)) + 2_000;
    for (let i = 0; i < 40 && Date.now() < until; i++) {
      for (const h of hogs) await h.a.send({ frame: { type: "Heartbeat" } });
      await new Promise((r) => setTimeout(r, Math.min(5_000, Math.max(0, until - Date.now()))));
    }
    // a frame signed with the expired key no longer passes the sentinel
    for (const h of hogs) {
      const refused = await open(h, h.short);
      expect(refused.frame).toMatchObject({ type: "DeliveryAck", ok: false, code: "key_unknown" });
      expect(h.a.isOpen).toBe(true); // the long key is valid: the connection stays
    }
    // the flood, signed with the long key: counted under the principal
    const answers: Envelope[] = [];
    for (const h of hogs) for (let i = 0; i < 2 * PEER_CHANNELS; i++) answers.push(await open(h, h.long));
    expect(answers.filter(accepted)).toHaveLength(PRINCIPAL_CHANNELS);
    const reasons = answers
      .filter((e) => !accepted(e))
      .map((e) => String((e.frame as { reason?: string }).reason));
    expect(reasons.some((r) => r.includes("per-principal limit"))).toBe(true);
    // a client of the other credential arriving now gets its channel
    const newcomer = await LegitTraffic.connect(stack.clientEnv);
    others.push(newcomer);
    for (let i = 0; i < 3; i++) await newcomer.callOnce();
    expect((await newcomer.stop()).failures).toEqual([]);
  }, 240_000);
});
