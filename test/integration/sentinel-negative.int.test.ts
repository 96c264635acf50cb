import { join } from "node:path";
import { Writable } from "node:stream";
import { requestJson, requestRaw } from "@fame/http-service/client";
import { loadSigningKeyFile, signAttachTicket } from "@fame/identity";
import { createLogger } from "@fame/logger";
import {
  type Envelope,
  type EnvelopeInit,
  encodeEnvelope,
  type Frame,
  makeEnvelope,
  newId,
} from "@fame/protocol";
import { Agent, connectFabric, type Fabric, NodeSigner, nodeConfigFromEnv } from "@fame/sdk";
import { type FabricStack, pidAlive, startFabricStack, stopAll } from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attachEnvelope, type Peer, rawPeers } from "./raw-peer.js";

/**
 * Issue 4's adversarial acceptance: a node that speaks the wire protocol by
 * hand tries every way in that it should not have. Each attempt gets a clear
 * refusal by code, the sentinel stays healthy, and a well-behaved client keeps
 * calling the math agent over an encrypted channel throughout.
 */
interface MathApi {
  add(p: { x: number; y: number }): Promise<number>;
}

const MATH = "math@fame.fabric";

let stack: FabricStack;
let client: Fabric;
let math: MathApi;

const quiet = () =>
  createLogger({
    name: "it-client",
    level: "warn",
    destination: new Writable({ write: (_c, _e, cb) => cb() }),
  });

beforeAll(async () => {
  stack = await startFabricStack({ securityProfile: "strict-overlay", encryption: "channel" });
  await stack.startReplica("replica1");
  client = await connectFabric({
    config: nodeConfigFromEnv(stack.nodeEnv),
    logger: quiet(),
    installDefault: false,
  });
  math = Agent.remoteByAddress<MathApi>(MATH, { endpoint: client.endpoint, idempotent: ["add"] });
  expect(await math.add({ x: 1, y: 1 })).toBe(2);
}, 120_000);

afterAll(async () => {
  await raw.closeAll();
  await client?.close();
  const pids = stack?.allPids() ?? [];
  await stack?.stop();
  await stopAll();
  for (const pid of pids) expect(pidAlive(pid)).toBe(false);
});

// ───────────────────────── a node by hand ─────────────────────────

const raw = rawPeers(() => stack);
const identity = raw.identity;
const attachWith = raw.attachWith;
const attachedPeer = raw.attachedPeer;

async function expectAttachRefused(env: Envelope, code: string): Promise<void> {
  const { node, ack } = await attachWith(env);
  expect(ack.frame).toMatchObject({ type: "NodeAttachAck", ok: false, code });
  expect(ack.corrId).toBe(env.id);
  expect((await node.closed).code).toBe(1008);
}

function addRequest(peer: Peer, x: number, y: number): Omit<EnvelopeInit<Frame>, "sid"> {
  const corrId = newId();
  return {
    to: MATH,
    replyTo: peer.replyTo,
    corrId,
    frame: {
      type: "Data",
      codec: "json",
      payload: { jsonrpc: "2.0", id: corrId, method: "add", params: { x, y } },
    },
  };
}

/** the sentinel is up, answers /health, and a normal client's encrypted calls still work */
async function expectFabricHealthy(): Promise<void> {
  expect(pidAlive(stack.sentinel.pid)).toBe(true);
  const health = await requestRaw(`${stack.urls.sentinel}/health`, {
    ca: stack.trustBundle,
    timeoutMs: 5000,
  });
  expect(health.status).toBe(200);
  const x = Math.floor(Math.random() * 1000);
  expect(await math.add({ x, y: 1 })).toBe(x + 1);
}

// ───────────────────────── attach refusals ─────────────────────────

describe("attach refusals (NodeAttachAck ok:false + close 1008)", () => {
  it("refuses an attach without a ticket: ticket_invalid", async () => {
    const id = await identity();
    await expectAttachRefused(
      attachEnvelope({
        signer: id.signer,
        systemId: id.adm.systemId,
        instanceId: id.instanceId,
        logicals: id.adm.acceptedLogicals,
      }),
      "ticket_invalid",
    );
    await expectFabricHealthy();
  });

  it("refuses an expired ticket signed with Welcome's own key, and takes a fresh one made the same way", async () => {
    const id = await identity();
    const welcomeKey = await loadSigningKeyFile(
      join(stack.dir, "secrets", "welcome-signing-key.json"),
      "welcome signing key",
    );
    const ticket = (at: number) =>
      signAttachTicket(welcomeKey, {
        issuer: stack.urls.welcome,
        audience: "fame-sentinel",
        ttlSec: 60,
        now: at,
        systemId: id.adm.systemId,
        assignedPath: id.adm.assignedPath,
        acceptedLogicals: id.adm.acceptedLogicals,
        instanceId: id.instanceId,
      });
    const attach = async (at: number) =>
      attachEnvelope({
        signer: id.signer,
        systemId: id.adm.systemId,
        instanceId: id.instanceId,
        ticket: (await ticket(at)).token,
        logicals: id.adm.acceptedLogicals,
      });
    // an hour old, far beyond its 60 s lifetime and the clock tolerance
    await expectAttachRefused(await attach(Date.now() - 3_600_000), "ticket_invalid");
    // control: the same key and claims, issued now, are accepted, so expiry was the only fault
    const { ack } = await attachWith(await attach(Date.now()));
    expect(ack.frame).toMatchObject({ type: "NodeAttachAck", ok: true });
    await expectFabricHealthy();
  });

  it("refuses a replayed ticket (same ticket and instance twice): ticket_replayed", async () => {
    const id = await identity();
    const first = await attachedPeer(id);
    expect(first.node.isOpen).toBe(true);
    await expectAttachRefused(
      attachEnvelope({
        signer: id.signer,
        systemId: id.adm.systemId,
        instanceId: id.instanceId,
        ticket: id.adm.attachTicket,
        logicals: id.adm.acceptedLogicals,
      }),
      "ticket_replayed",
    );
    // the legitimate first attachment is not disturbed by the replay
    const hb = await first.send({ frame: { type: "Heartbeat" } });
    expect((await first.answerTo(hb)).frame.type).toBe("HeartbeatAck");
    await expectFabricHealthy();
  });

  it("refuses node B's ticket presented with node A's certificate: cert_invalid", async () => {
    const a = await identity();
    const b = await identity();
    await expectAttachRefused(
      attachEnvelope({
        signer: a.signer, // A's key and chain, and A really holds the key
        systemId: b.adm.systemId,
        instanceId: b.instanceId,
        ticket: b.adm.attachTicket,
        logicals: b.adm.acceptedLogicals,
      }),
      "cert_invalid",
    );
    await expectFabricHealthy();
  });

  it("refuses a logical the ticket did not grant: logical_not_granted", async () => {
    const id = await identity();
    await expectAttachRefused(
      attachEnvelope({
        signer: id.signer,
        systemId: id.adm.systemId,
        instanceId: id.instanceId,
        ticket: id.adm.attachTicket,
        logicals: [...id.adm.acceptedLogicals, "payments.example.org"],
      }),
      "logical_not_granted",
    );
    await expectFabricHealthy();
  });
});

// ───────────────────────── envelope signatures ─────────────────────────

describe("envelope signatures", () => {
  let peer: Peer;
  beforeAll(async () => {
    peer = await attachedPeer(await identity());
  });

  it("forwards a validly signed request (control)", async () => {
    const sent = await peer.send(addRequest(peer, 2, 3));
    const answer = await peer.answerTo(sent);
    expect(answer.frame).toMatchObject({ type: "Data", payload: { result: 5 } });
  });

  it("refuses an envelope whose payload changed after signing: signature_invalid", async () => {
    const init = addRequest(peer, 2, 3);
    const env = peer.signer.sign(makeEnvelope({ ...init, sid: peer.sid } as EnvelopeInit<Frame>));
    (env.frame as { payload: unknown }).payload = {
      jsonrpc: "2.0",
      id: env.corrId!,
      method: "add",
      params: { x: 2000, y: 3 },
    };
    await peer.node.send(encodeEnvelope(env));
    const answer = await peer.answerTo(env);
    expect(answer.frame).toMatchObject({
      type: "DeliveryAck",
      ok: false,
      refId: env.id,
      code: "signature_invalid",
    });
    await expectFabricHealthy();
  });

  it("refuses an envelope signed by another node's key under this node's kid: signature_invalid", async () => {
    const stranger = NodeSigner.generate();
    const env = makeEnvelope({ ...addRequest(peer, 1, 1), sid: peer.sid } as EnvelopeInit<Frame>);
    stranger.sign(env);
    env.sec!.sig!.kid = peer.signer.kid;
    await peer.node.send(encodeEnvelope(env));
    const answer = await peer.answerTo(env);
    expect(answer.frame).toMatchObject({ type: "DeliveryAck", ok: false, code: "signature_invalid" });
  });

  it("refuses an unsigned envelope: signature_missing", async () => {
    const env = await peer.send(addRequest(peer, 2, 3), { unsigned: true });
    const answer = await peer.answerTo(env);
    expect(answer.frame).toMatchObject({
      type: "DeliveryAck",
      ok: false,
      refId: env.id,
      code: "signature_missing",
    });
    expect(peer.node.isOpen).toBe(true);
    await expectFabricHealthy();
  });
});

// ───────────────────────── address binding ─────────────────────────

describe("address binding", () => {
  it("refuses an address outside the node's logicals: logical_not_granted", async () => {
    const peer = await attachedPeer(await identity());
    for (const address of ["svc@example.org", "svc@evilfame.fabric"]) {
      const env = await peer.send({ frame: { type: "AddressBind", address } });
      const ack = await peer.answerTo(env);
      expect(ack.frame).toMatchObject({
        type: "AddressBindAck",
        address,
        ok: false,
        code: "logical_not_granted",
      });
    }
    await expectFabricHealthy();
  });

  it("gives an exact logical to one node only: the second gets address_conflict", async () => {
    const logical = `solo${Date.now().toString(36)}.fame.fabric`;
    const address = `svc@${logical}`;
    const first = await attachedPeer(await identity([logical]));
    const second = await attachedPeer(await identity([logical]));
    const ok = await first.answerTo(await first.send({ frame: { type: "AddressBind", address } }));
    expect(ok.frame).toMatchObject({ type: "AddressBindAck", address, ok: true });
    const refused = await second.answerTo(await second.send({ frame: { type: "AddressBind", address } }));
    expect(refused.frame).toMatchObject({
      type: "AddressBindAck",
      address,
      ok: false,
      code: "address_conflict",
    });
    // a pooled (wildcard) member cannot join an exclusive address either
    const pooled = await attachedPeer(await identity());
    const alsoRefused = await pooled.answerTo(
      await pooled.send({ frame: { type: "AddressBind", address: `svc@${logical}` } }),
    );
    expect(alsoRefused.frame).toMatchObject({ ok: false, code: "address_conflict" });
    await expectFabricHealthy();
  });
});

// ───────────────────────── size and floods ─────────────────────────

describe("oversized and malformed frames", () => {
  it("refuses a frame over the protocol limit by code, and closes a 10 MB frame with 1009", async () => {
    const peer = await attachedPeer(await identity());
    // 1.5 MiB: over the 1 MiB protocol limit, under the socket limit, so it is answered by code
    const big = `{"v":1,"pad":"${"x".repeat(1536 * 1024)}"}`;
    await peer.node.send(big);
    const nack = await peer.node.waitFor(
      (m) => m.frame.type === "DeliveryAck" && (m.frame as { code?: string }).code === "frame_too_large",
    );
    expect(nack.frame).toMatchObject({ ok: false, code: "frame_too_large" });
    expect(peer.node.isOpen).toBe(true);

    const huge = `{"v":1,"pad":"${"x".repeat(10 * 1024 * 1024)}"}`;
    await peer.node.send(huge).catch(() => undefined); // the sentinel may cut the socket mid-write
    expect((await peer.node.closed).code).toBe(1009);
    await expectFabricHealthy();
  });

  it("answers 1000 malformed frames from one connection while another client's calls all succeed", async () => {
    const peer = await attachedPeer(await identity());
    const valid = makeEnvelope({ sid: peer.sid, frame: { type: "Heartbeat" } });
    const malformed = [
      "not json at all",
      "{",
      "",
      "null",
      "[]",
      JSON.stringify({ ...valid, v: 2 }),
      JSON.stringify({ ...valid, frame: { type: "Bogus" } }),
      JSON.stringify({ ...valid, extra: true }),
      `{"v":1,"id":"x","sid":"${peer.sid}","ts":1,"frame":{"type":"Heartbeat"},"meta":{"a":"\\ud800"}}`,
      `{"v":1,"id":"x","sid":"${peer.sid}","ts":1e400,"frame":{"type":"Heartbeat"}}`,
      `{"__proto__":{"polluted":true},"v":1}`,
      `${"[".repeat(5000)}${"]".repeat(5000)}`,
    ];
    const TOTAL = 1000;
    const isFloodNack = (m: Envelope) =>
      m.frame.type === "DeliveryAck" && (m.frame as { refId?: string }).refId === "unknown";

    let flooding = true;
    let completed = 0;
    let duringFlood = 0;
    const failures: string[] = [];
    let tick: () => void = () => {};
    const nextCall = () =>
      new Promise<void>((resolve) => {
        tick = resolve;
      });

    const calls = async () => {
      // bounded: stops once the flood is over and a few calls ran after it
      for (let i = 0; i < 20_000 && (flooding || completed < duringFlood + 10); i++) {
        try {
          const got = await math.add({ x: i, y: 1 });
          if (got !== i + 1) failures.push(`add(${i}, 1) = ${got}`);
        } catch (err) {
          failures.push((err as Error).message);
        }
        completed++;
        if (flooding) duringFlood++;
        tick();
      }
    };
    const flood = async () => {
      try {
        for (let sent = 0; sent < TOTAL && peer.node.isOpen; ) {
          const waitForCall = nextCall();
          for (let j = 0; j < 50 && sent < TOTAL; j++, sent++)
            await peer.node.send(malformed[sent % malformed.length]!);
          // interleave by construction: the next batch goes only after a client call completed meanwhile
          await waitForCall;
        }
      } finally {
        flooding = false;
      }
    };
    await Promise.all([calls(), flood()]);

    expect(failures).toEqual([]);
    expect(duringFlood).toBeGreaterThanOrEqual(TOTAL / 50);
    if (peer.node.isOpen) {
      // every malformed frame is answered by code
      await expect.poll(() => peer.node.received.filter(isFloodNack).length, { timeout: 15_000 }).toBe(TOTAL);
      const codes = new Set(
        peer.node.received.filter(isFloodNack).map((m) => (m.frame as { code: string }).code),
      );
      expect([...codes].every((c) => ["bad_envelope", "unknown_frame", "frame_too_large"].includes(c))).toBe(
        true,
      );
    } else {
      // a flood limit may cut the connection instead: then as a policy violation
      expect((await peer.node.closed).code).toBe(1008);
    }
    const status = await requestJson<{ counters: { badFrames: number } }>(
      `${stack.urls.sentinel}/fame/v1/status`,
      { ca: stack.trustBundle, headers: stack.adminHeaders },
    );
    expect(status.counters.badFrames).toBeGreaterThanOrEqual(peer.node.received.filter(isFloodNack).length);
    await expectFabricHealthy();
  }, 120_000);
});
