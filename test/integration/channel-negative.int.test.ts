import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { Writable } from "node:stream";
import { defaultBackend, type X25519KeyPair } from "@fame/crypto";
import { requestJson } from "@fame/http-service/client";
import { signAft, unsignedAft } from "@fame/identity";
import { createLogger } from "@fame/logger";
import {
  base64urlDecode,
  base64urlEncode,
  decodeEnvelope,
  type Envelope,
  encodeEnvelope,
  makeEnvelope,
  newId,
  type SecureOpen,
} from "@fame/protocol";
import { Agent, connectFabric, type Fabric, NodeSigner, nodeConfigFromEnv, SecureChannel } from "@fame/sdk";
import { type FabricStack, pidAlive, startFabricStack, stopAll } from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type WebSocket, WebSocketServer } from "ws";
import { type Identity, type Peer, rawPeers } from "./raw-peer.js";

/**
 * Issue 5's adversarial acceptance for encrypted channels: clients that misuse
 * another's channel, tamper with or replay sealed records, or name channels
 * that do not exist are refused by code; a rogue replica cannot pin a channel
 * without a valid affinity tag; and the client SDK refuses a SecureAccept not
 * signed by the certificate key of the replica it claims to come from.
 */
interface MathApi {
  add(p: { x: number; y: number }): Promise<number>;
}

const MATH = "math@fame.fabric";
const backend = defaultBackend();

let stack: FabricStack;
const raw = rawPeers(() => stack);

const quiet = () =>
  createLogger({
    name: "it-client",
    level: "warn",
    destination: new Writable({ write: (_c, _e, cb) => cb() }),
  });

interface StickinessStatus {
  stickiness: { pinsCreated: number; perReplica: Record<string, number> };
}
const status = () =>
  requestJson<StickinessStatus>(`${stack.urls.sentinel}/fame/v1/status`, {
    ca: stack.trustBundle,
    headers: stack.adminHeaders,
  });

beforeAll(async () => {
  stack = await startFabricStack({ securityProfile: "strict-overlay", encryption: "channel" });
  await stack.startReplica("replica1");
}, 120_000);

afterAll(async () => {
  await raw.closeAll();
  const pids = stack?.allPids() ?? [];
  await stack?.stop();
  await stopAll();
  for (const pid of pids) expect(pidAlive(pid)).toBe(false);
});

// ───────────────────────── a channel by hand ─────────────────────────

interface RawChannel {
  peer: Peer;
  ch: SecureChannel;
  address: string;
}

function secureOpen(peer: Peer, address: string, eph: X25519KeyPair, cid = newId()) {
  return peer.send({
    to: address,
    replyTo: peer.replyTo,
    corrId: cid,
    frame: { type: "SecureOpen", cid, ephPub: base64urlEncode(eph.publicKey), alg: "CHACHA20P1305" },
  });
}

/** the client half of the handshake, done by hand; the key schedule is the SDK's SecureChannel */
async function openChannel(peer: Peer, address = MATH): Promise<RawChannel> {
  const eph = backend.x25519Keygen();
  const open = await secureOpen(peer, address, eph);
  const accept = await peer.answerTo(open);
  if (accept.frame.type !== "SecureAccept" || !accept.frame.ok || !accept.frame.ephPub) {
    throw new Error(`channel refused: ${JSON.stringify(accept.frame)}`);
  }
  const replicaEph = base64urlDecode(accept.frame.ephPub);
  const ch = new SecureChannel(
    accept.frame.cid,
    "client",
    accept.sid,
    address,
    {
      backend,
      sharedSecret: backend.x25519SharedSecret(eph.secretKey, replicaEph),
      clientEphPub: eph.publicKey,
      replicaEphPub: replicaEph,
      clientSid: peer.sid,
      replicaSid: accept.sid,
      now: Date.now(),
    },
    accept.frame.aft,
  );
  return { peer, ch, address };
}

/** a sealed add request on the channel, not yet signed (so a test may tamper first) */
function sealedAdd(c: RawChannel, x: number, y: number): Envelope {
  const corrId = newId();
  const env = makeEnvelope({
    sid: c.peer.sid,
    to: c.address,
    replyTo: c.peer.replyTo,
    corrId,
    frame: { type: "Data", codec: "json", payload: null },
  });
  c.ch.seal(env, { jsonrpc: "2.0", id: corrId, method: "add", params: { x, y } });
  return env;
}

async function callAdd(c: RawChannel, x: number, y: number): Promise<{ sent: Envelope; result: unknown }> {
  const sent = c.peer.signer.sign(sealedAdd(c, x, y));
  await c.peer.post(sent);
  const answer = await c.peer.answerTo(sent);
  if (answer.frame.type !== "Data") throw new Error(`call refused: ${JSON.stringify(answer.frame)}`);
  return { sent, result: (c.ch.open(answer) as { result?: unknown }).result };
}

async function expectNack(peer: Peer, env: Envelope, code: string): Promise<void> {
  const answer = await peer.answerTo(env);
  expect(answer.frame).toMatchObject({ type: "DeliveryAck", ok: false, refId: env.id, code });
}

// ───────────────────────── misuse of channels ─────────────────────────

describe("sealed data misuse is refused by code, to the sender", () => {
  let owner: RawChannel;
  let captured: Envelope;

  beforeAll(async () => {
    const peer = await raw.attachedPeer(await raw.identity());
    peer.keepAlive();
    owner = await openChannel(peer);
    const call = await callAdd(owner, 20, 22);
    expect(call.result).toBe(42);
    captured = call.sent;
  });

  it("refuses another client's data on the owner's cid (channel_conflict); the owner is unaffected", async () => {
    const intruder = await raw.attachedPeer(await raw.identity());
    const corrId = newId();
    const env = makeEnvelope({
      sid: intruder.sid,
      to: MATH,
      replyTo: intruder.replyTo,
      corrId,
      frame: { type: "Data", codec: "enc", ct: (captured.frame as { ct: string }).ct },
      sec: { enc: { ...captured.sec!.enc! } },
    });
    await intruder.post(intruder.signer.sign(env));
    await expectNack(intruder, env, "channel_conflict");
    expect((await callAdd(owner, 1, 2)).result).toBe(3);
  });

  it("refuses tampered ciphertext: decrypt_failed, from the replica", async () => {
    const env = sealedAdd(owner, 5, 5);
    const frame = env.frame as { ct: string };
    const i = Math.floor(frame.ct.length / 2);
    frame.ct = `${frame.ct.slice(0, i)}${frame.ct[i] === "A" ? "B" : "A"}${frame.ct.slice(i + 1)}`;
    await owner.peer.post(owner.peer.signer.sign(env)); // validly signed: only the seal is broken
    await expectNack(owner.peer, env, "decrypt_failed");
    expect((await callAdd(owner, 5, 5)).result).toBe(10);
  });

  it("refuses a captured sealed envelope sent again verbatim: replay", async () => {
    await owner.peer.post(captured);
    const nack = await owner.peer.node.waitFor(
      (m) => m.frame.type === "DeliveryAck" && m.corrId === captured.corrId,
    );
    expect(nack.frame).toMatchObject({ ok: false, refId: captured.id, code: "replay" });
    expect((await callAdd(owner, 6, 6)).result).toBe(12);
  });

  it("refuses data on a cid nobody opened: channel_unknown", async () => {
    const env = sealedAdd(owner, 7, 7);
    env.sec!.enc!.cid = newId();
    await owner.peer.post(owner.peer.signer.sign(env));
    await expectNack(owner.peer, env, "channel_unknown");
    expect((await callAdd(owner, 7, 7)).result).toBe(14);
  });
});

// ───────────────────────── a rogue replica's affinity tags ─────────────────────────

describe("strict stickiness: a SecureAccept without a valid AFT creates no pin", () => {
  const ROGUE = "rogue@fame.fabric";
  let rogue: Peer;
  let client: Peer;
  /** what the rogue puts in its next SecureAccept, given the claims it should sign */
  let mintAft: (claims: Parameters<typeof signAft>[0]) => Promise<string>;
  const otherKey = backend.ed25519Keygen().seed;
  const rogueErrors: string[] = [];

  beforeAll(async () => {
    rogue = await raw.attachedPeer(await raw.identity());
    rogue.keepAlive();
    const bound = await rogue.answerTo(await rogue.send({ frame: { type: "AddressBind", address: ROGUE } }));
    expect(bound.frame).toMatchObject({ type: "AddressBindAck", ok: true });
    // The rogue answers every SecureOpen itself, with whatever tag the test chose.
    rogue.node.onMessage = (m) => {
      if (m.frame.type === "SecureOpen")
        answerOpen(m as Envelope<SecureOpen>).catch((err: unknown) => rogueErrors.push(String(err)));
    };
    client = await raw.attachedPeer(await raw.identity());
    client.keepAlive();
  });

  async function answerOpen(open: Envelope<SecureOpen>): Promise<void> {
    const iat = Math.floor(Date.now() / 1000);
    const aft = await mintAft({
      sid: rogue.sid,
      cid: open.frame.cid,
      client_sid: open.sid,
      scp: "channel",
      iat,
      exp: iat + 600,
    });
    await rogue.send({
      to: open.replyTo,
      corrId: open.corrId ?? open.frame.cid,
      frame: {
        type: "SecureAccept",
        cid: open.frame.cid,
        ok: true,
        ephPub: base64urlEncode(backend.x25519Keygen().publicKey),
        aft,
      },
    });
  }

  async function tryOpen(): Promise<Envelope> {
    const open = await secureOpen(client, ROGUE, backend.x25519Keygen());
    return client.answerTo(open);
  }

  const cases: [string, (c: Parameters<typeof signAft>[0]) => Promise<string>][] = [
    ["forged (signed by a key that is not the replica's)", (c) => signAft(c, otherKey)],
    ["unsigned (alg none)", async (c) => unsignedAft(c)],
    ["expired", (c) => signAft({ ...c, iat: c.iat - 7200, exp: c.iat - 3600 }, rogue.id.adm.seed)],
    ["for another channel", (c) => signAft({ ...c, cid: newId() }, rogue.id.adm.seed)],
  ];

  for (const [name, mint] of cases) {
    it(`refuses an AFT that is ${name}: the open fails with channel_unknown and nothing is pinned`, async () => {
      mintAft = mint;
      const before = await status();
      const answer = await tryOpen();
      expect(answer.frame).toMatchObject({ type: "DeliveryAck", ok: false, code: "channel_unknown" });
      // the rogue's SecureAccept never reaches the client
      expect(client.node.received.some((m) => m.frame.type === "SecureAccept")).toBe(false);
      const after = await status();
      expect(after.stickiness.pinsCreated).toBe(before.stickiness.pinsCreated);
      expect(after.stickiness.perReplica[rogue.id.adm.systemId] ?? 0).toBe(0);
      expect(rogueErrors).toEqual([]);
    });
  }

  it("pins a channel when the same rogue signs a valid AFT with its certificate key (control)", async () => {
    mintAft = (c) => signAft(c, rogue.id.adm.seed);
    const before = await status();
    const answer = await tryOpen();
    expect(answer.frame).toMatchObject({ type: "SecureAccept", ok: true });
    const after = await status();
    expect(after.stickiness.pinsCreated).toBe(before.stickiness.pinsCreated + 1);
    expect(after.stickiness.perReplica[rogue.id.adm.systemId]).toBe(1);
  });
});

// ───────────────────────── the client SDK's own check ─────────────────────────

/**
 * A compromised sentinel (here: a fake one speaking TLS with the dev server
 * certificate) answers a real SDK client's SecureOpen in the name of a real,
 * certified replica. The client learns the replica's key with its certificate
 * and must accept the channel only if the SecureAccept is signed by that key.
 */
describe("end to end: the client SDK refuses a SecureAccept not signed by the replica's certificate key", () => {
  let server: Server;
  let wss: WebSocketServer;
  let url = "";
  let replica: NodeSigner;
  let replicaAdm: Identity["adm"];
  const sdkClients: Fabric[] = [];
  let forge = true;
  const impostor = NodeSigner.generate();
  const clientNacks: Envelope[] = [];

  beforeAll(async () => {
    const id = await raw.identity(); // a genuine replica identity: certificate for *.fame.fabric
    replicaAdm = id.adm;
    replica = id.signer;
    server = createServer({
      cert: readFileSync(join(stack.dir, "server.pem")),
      key: readFileSync(join(stack.dir, "server.key")),
    });
    wss = new WebSocketServer({ server });
    wss.on("connection", (ws) => fakeSentinel(ws));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `wss://127.0.0.1:${(server.address() as AddressInfo).port}/fame/v1/attach/ws/downstream`;
  });

  afterAll(async () => {
    // clients first, or they would start reconnecting to a server that is going away
    for (const f of sdkClients) await f.close();
    for (const ws of wss?.clients ?? []) ws.terminate();
    wss?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  function fakeSentinel(ws: WebSocket): void {
    const reply = (env: Envelope) => ws.send(encodeEnvelope(env));
    ws.on("message", (data: Buffer) => {
      let env: Envelope;
      try {
        env = decodeEnvelope(data.toString("utf8"));
      } catch {
        return;
      }
      const f = env.frame;
      switch (f.type) {
        case "NodeAttach":
          reply(
            makeEnvelope({
              sid: "fakesentinel",
              corrId: env.id,
              frame: {
                type: "NodeAttachAck",
                ok: true,
                assignedPath: "/sentinel0/victim",
                heartbeatMs: 5000,
              },
            }),
          );
          return;
        case "Heartbeat":
          reply(makeEnvelope({ sid: "fakesentinel", corrId: env.id, frame: { type: "HeartbeatAck" } }));
          return;
        case "KeyRequest":
          // the genuine replica's key and certificate, as a real sentinel would announce it
          reply(
            makeEnvelope({
              sid: "fakesentinel",
              corrId: env.id,
              frame: { type: "KeyAnnounce", keys: [replica.jwk], sid: replicaAdm.sid },
            }),
          );
          return;
        case "SecureOpen": {
          const eph = backend.x25519Keygen();
          const accept = makeEnvelope({
            sid: replicaAdm.sid,
            to: env.replyTo,
            replyTo: `rpc@${replicaAdm.assignedPath}`,
            corrId: env.corrId ?? f.cid,
            frame: { type: "SecureAccept", cid: f.cid, ok: true, ephPub: base64urlEncode(eph.publicKey) },
          });
          if (forge) {
            // signed by another key, presented under the replica's kid
            impostor.sign(accept);
            accept.sec!.sig!.kid = replica.kid;
          } else replica.sign(accept);
          reply(accept);
          return;
        }
        case "DeliveryAck":
          clientNacks.push(env);
          return;
        default:
      }
    });
  }

  async function sdkClient(): Promise<Fabric> {
    // The real SDK in strict-overlay (it vets peer keys against the trust bundle), attached to the fake.
    const config = {
      ...nodeConfigFromEnv(stack.nodeEnv),
      admissionProfile: "none" as const,
      sentinelUrl: url,
    };
    const f = await connectFabric({
      config,
      logger: quiet(),
      installDefault: false,
      channels: { openTimeoutMs: 1500 },
      rpc: { retry: { maxRetries: 0 } },
    });
    sdkClients.push(f);
    return f;
  }

  it("accepts the channel when the replica's own key signed the SecureAccept (control)", async () => {
    forge = false;
    const f = await sdkClient();
    const ch = await f.node.channels.forAddress(MATH);
    expect(ch.peerSid).toBe(replicaAdm.sid);
    expect(f.node.channels.metrics.opened).toBe(1);
  });

  it("refuses it when signed by another key: no channel, the call fails, the forger hears signature_invalid", async () => {
    forge = true;
    const f = await sdkClient();
    await expect(f.node.channels.forAddress(MATH)).rejects.toMatchObject({ code: "timeout" });
    expect(f.node.channels.metrics.opened).toBe(0);
    expect(f.node.channels.size).toBe(0);
    expect(clientNacks.some((n) => (n.frame as { code?: string }).code === "signature_invalid")).toBe(true);
    const math = Agent.remoteByAddress<MathApi>(MATH, { endpoint: f.endpoint });
    await expect(math.add({ x: 1, y: 2 })).rejects.toThrow();
    expect(f.node.channels.metrics.opened).toBe(0);
  });
});
