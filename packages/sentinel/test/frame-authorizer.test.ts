import { randomBytes } from "node:crypto";
import { defaultBackend } from "@fame/crypto";
import { AftSigner } from "@fame/identity";
import { base64urlEncode, type Envelope } from "@fame/protocol";
import {
  type AccessPolicy,
  AFTLoadBalancerStickinessManager,
  AttachAuthority,
  type NodeSession,
  ownsAddress,
  parsePoolPolicies,
  Sentinel,
} from "@fame/sentinel";
import { describe, expect, it } from "vitest";
import { attachNode, type TestNode } from "./affinity-helpers.js";
import { quietLogger } from "./fake-link.js";

/** One rule of the default authorize stage (FrameAuthorizer) per test, over fake links. */

const MATH = "math@fame.fabric";
const EXCL = "excl@fame.fabric";
const ephPub = base64urlEncode(defaultBackend().x25519Keygen().publicKey);

function sentinel(opts: { policy?: AccessPolicy; maxExclusiveSessionsPerClient?: number } = {}): Sentinel {
  const attach = new AttachAuthority({ sentinelId: "s0", securityProfile: "open", admissionProfile: "none" });
  return new Sentinel(
    {
      sentinelId: "s0",
      securityProfile: "open",
      loadBalancing: "round_robin",
      heartbeatMs: 60_000,
      heartbeatMissLimit: 3,
      attachTimeoutMs: 1000,
      maxFrameBytes: 64 * 1024,
      maxInflightPerConnection: 64,
      idleTimeoutMs: 3_600_000,
      pools: parsePoolPolicies([{ address: EXCL, affinity: "session", exclusive: true }]),
      ...(opts.maxExclusiveSessionsPerClient === undefined
        ? {}
        : { maxExclusiveSessionsPerClient: opts.maxExclusiveSessionsPerClient }),
    },
    {
      log: quietLogger,
      attach,
      policy: opts.policy,
      // signed-optional pins an accept without an AFT, which the open profile cannot sign
      stickiness: new AFTLoadBalancerStickinessManager({ securityLevel: "signed-optional" }),
    },
  );
}

const replyOf = (n: TestNode) => `rpc@${n.session.path}`;

async function fabric(opts?: Parameters<typeof sentinel>[0]) {
  const s = sentinel(opts);
  const r = await attachNode(s, "r", ["*.fame.fabric"]);
  await r.send({ frame: { type: "AddressBind", address: MATH } });
  const victim = await attachNode(s, "victim");
  const mallory = await attachNode(s, "mallory");
  const open = (c: TestNode, cid: string, to = MATH) =>
    c.send({
      to,
      replyTo: replyOf(c),
      corrId: cid,
      frame: { type: "SecureOpen", cid, ephPub, alg: "CHACHA20P1305" },
    });
  const accept = (from: TestNode, client: TestNode, cid: string) =>
    from.send({ to: replyOf(client), corrId: cid, frame: { type: "SecureAccept", cid, ok: true, ephPub } });
  const pins = () => (s.status()["stickiness"] as { size: number }).size;
  return { s, r, victim, mallory, open, accept, pins };
}

function nack(n: TestNode): { code?: string; notExecuted?: unknown } {
  const env: Envelope = n.link.last();
  if (env.frame.type !== "DeliveryAck" || env.frame.ok) return {};
  return { code: env.frame.code, notExecuted: env.meta?.["notExecuted"] };
}

describe("FrameAuthorizer", () => {
  it("lets only the channel's own parties close it: a stranger's SecureClose leaves the pin", async () => {
    const { s, r, victim, mallory, open, accept, pins } = await fabric();
    await open(victim, "ch1");
    await accept(r, victim, "ch1");
    expect(pins()).toBe(1);
    // to the victim's physical address, as if from its replica
    await mallory.send({ to: replyOf(victim), frame: { type: "SecureClose", cid: "ch1" } });
    expect(nack(mallory)).toEqual({ code: "not_authorized", notExecuted: true });
    // to the logical address, as if it were the channel's client: the sticky table refuses it
    await mallory.send({ to: MATH, frame: { type: "SecureClose", cid: "ch1" } });
    expect(nack(mallory)).toEqual({ code: "channel_conflict", notExecuted: true });
    expect(victim.link.frames("SecureClose")).toHaveLength(0);
    expect(r.link.frames("SecureClose")).toHaveLength(0);
    expect(pins()).toBe(1);
    expect(s.counters.authzRefused).toBe(1);
    // the pinned replica may
    await r.send({ to: replyOf(victim), frame: { type: "SecureClose", cid: "ch1" } });
    expect(victim.link.frames("SecureClose")).toHaveLength(1);
    expect(pins()).toBe(0);
  });

  it("lets only the replica a call went to answer it: another node's reply with its corrId is refused", async () => {
    const { s, r, victim, mallory } = await fabric();
    await victim.call(MATH, "v1");
    const forged = { jsonrpc: "2.0", id: "v1", result: 666 };
    await mallory.send({
      to: replyOf(victim),
      corrId: "v1",
      frame: { type: "Data", codec: "json", payload: forged },
    });
    expect(nack(mallory)).toEqual({ code: "not_authorized", notExecuted: true });
    // with no corrId a node takes the envelope's id for the conversation: an id naming the call
    // answers it just the same
    await mallory.send({
      to: replyOf(victim),
      id: "v1",
      frame: { type: "Data", codec: "json", payload: forged },
    });
    expect(nack(mallory)).toEqual({ code: "not_authorized", notExecuted: true });
    // as a coalesced record too (it need not open: the sentinel reads only the clear batch list)
    await mallory.send({
      to: replyOf(victim),
      frame: {
        type: "Data",
        codec: "enc",
        ct: base64urlEncode(new Uint8Array(48).fill(6)),
        batch: [{ corrId: "x" }, { corrId: "v1" }],
      },
      sec: { enc: { alg: "chacha20-poly1305-channel", cid: "c9", seq: 1, kid: "k", ac: "AAAAAAAAAAA" } },
    });
    expect(nack(mallory)).toEqual({ code: "not_authorized", notExecuted: true });
    // and as a clear batch (the list is checked entry by entry, before anything is delivered)
    await mallory.send({
      to: replyOf(victim),
      frame: {
        type: "Data",
        codec: "json",
        payload: [{ jsonrpc: "2.0", id: "x", result: 1 }, forged],
        batch: [{ corrId: "x" }, { corrId: "v1" }],
      },
    });
    expect(nack(mallory)).toEqual({ code: "not_authorized", notExecuted: true });
    expect(victim.data()).toHaveLength(0);
    expect(s.inflight.size).toBe(1);
    await r.answerLast();
    expect(victim.data()).toHaveLength(1);
    expect(s.inflight.size).toBe(0);
    // once answered nothing is in flight: a late message with that corrId is the victim's own business
    await mallory.send({
      to: replyOf(victim),
      corrId: "v1",
      frame: { type: "Data", codec: "json", payload: forged },
    });
    expect(victim.data()).toHaveLength(2);
  });

  it("takes the callee's clear batch of answers: each entry completes its own call", async () => {
    const { s, r, victim, mallory } = await fabric();
    await victim.call(MATH, "v1");
    await victim.call(MATH, "v2");
    expect(s.inflight.size).toBe(2);
    const answers = {
      type: "Data" as const,
      codec: "json" as const,
      payload: [
        { jsonrpc: "2.0", id: "v1", result: 1 },
        { jsonrpc: "2.0", id: "v2", result: 2 },
      ],
      batch: [{ corrId: "v1" }, { corrId: "v2" }],
    };
    // a stranger's copy of the same batch is refused whole
    await mallory.send({ to: replyOf(victim), frame: answers });
    expect(nack(mallory)).toEqual({ code: "not_authorized", notExecuted: true });
    expect(victim.data()).toHaveLength(0);
    await r.send({ to: replyOf(victim), frame: answers });
    expect(victim.data()).toHaveLength(1);
    expect(victim.data()[0]!.frame).toEqual(answers);
    expect(s.inflight.size).toBe(0);
  });

  it("lets the channel's client close it through the logical address", async () => {
    const { r, victim, open, accept, pins } = await fabric();
    await open(victim, "ch1");
    await accept(r, victim, "ch1");
    await victim.send({ to: MATH, frame: { type: "SecureClose", cid: "ch1" } });
    expect(r.link.frames("SecureClose")).toHaveLength(1);
    expect(pins()).toBe(0);
  });

  it("refuses a stranger's SecureAccept for a pending open, which stays for the rightful replica", async () => {
    const { s, r, victim, mallory, open, accept, pins } = await fabric();
    await open(victim, "ch1");
    expect(s.status()["pendingOpens"]).toBe(1);
    await accept(mallory, victim, "ch1");
    expect(nack(mallory)).toEqual({ code: "not_authorized", notExecuted: true });
    expect(victim.link.frames("SecureAccept")).toHaveLength(0);
    expect(s.status()["pendingOpens"]).toBe(1);
    await accept(r, victim, "ch1");
    expect(victim.link.frames("SecureAccept")).toHaveLength(1);
    expect(pins()).toBe(1);
  });

  it("refuses to the client at once an accept whose tag does not verify, leaving no pin and no pending open", async () => {
    const { s, r, victim, open, pins } = await fabric();
    await open(victim, "ch1");
    // signed with a key the replica never presented (the open profile takes none at attach)
    const aft = await new AftSigner(new Uint8Array(randomBytes(32))).issue({
      sid: r.session.sid,
      cid: "ch1",
      clientSid: victim.session.sid,
    });
    await r.send({
      to: replyOf(victim),
      corrId: "ch1",
      frame: { type: "SecureAccept", cid: "ch1", ok: true, ephPub, aft },
    });
    expect(victim.link.frames("SecureAccept")).toHaveLength(0);
    expect(nack(victim)).toEqual({ code: "channel_unknown", notExecuted: true });
    expect(pins()).toBe(0);
    expect(s.status()["pendingOpens"]).toBe(0);
  });

  it("refuses a replyTo that is not an address of the sender's node, on any frame", async () => {
    const { s, r, victim, mallory } = await fabric();
    const call = (corrId: string, replyTo: string) =>
      mallory.send({
        to: MATH,
        replyTo,
        corrId,
        frame: { type: "Data", codec: "json", payload: { stream: "cancel" } as never },
      });
    await call("q1", replyOf(victim));
    expect(nack(mallory)).toEqual({ code: "reply_to_not_owned", notExecuted: true });
    await call("q2", `rpc@${mallory.session.path}x`);
    expect(nack(mallory)).toEqual({ code: "reply_to_not_owned", notExecuted: true });
    await mallory.send({ replyTo: replyOf(victim), frame: { type: "KeyRequest", kid: "k-victim" } });
    expect(nack(mallory)).toEqual({ code: "reply_to_not_owned", notExecuted: true });
    expect(r.data()).toHaveLength(0);
    expect(s.inflight.size).toBe(0);
    await call("q3", replyOf(mallory));
    expect(r.data().map((e) => e.corrId)).toEqual(["q3"]);
    expect((s.status()["refusedByCode"] as Record<string, number>)["reply_to_not_owned"]).toBe(3);
    expect(s.metricsText()).toContain('fame_sentinel_refusals_total{code="reply_to_not_owned"} 3');
  });

  it("ownsAddress compares a name@path address with the node's path in place", () => {
    expect(ownsAddress("/s0/a", "rpc@/s0/a")).toBe(true);
    expect(ownsAddress("/s0/a", "x@y@/s0/a")).toBe(true);
    expect(ownsAddress("/s0/a", "@/s0/a")).toBe(false);
    expect(ownsAddress("/s0/a", "rpc@/s0/ab")).toBe(false);
    expect(ownsAddress("/s0/a", "rpc@/s0/xa")).toBe(false);
    expect(ownsAddress("/s0/a", "rpc/s0/a")).toBe(false);
    expect(ownsAddress("/s0/a", "math@fame.fabric")).toBe(false);
    expect(ownsAddress("", "rpc@")).toBe(false);
  });

  it("refuses a SecureOpen to a replica's physical address: no pending open, the quota untouched", async () => {
    const { s, r, mallory, open } = await fabric();
    await open(mallory, "p1", `math@${r.session.path}`);
    expect(nack(mallory)).toEqual({ code: "not_authorized", notExecuted: true });
    expect(r.link.frames("SecureOpen")).toHaveLength(0);
    expect(s.status()["pendingOpens"]).toBe(0);
  });

  it("asks the access policy before a call or open to a logical address", async () => {
    const policy: AccessPolicy = {
      mayServe: () => true,
      mayCall: (node: NodeSession, address: string) => node.systemId !== "mallory" || address !== MATH,
    };
    const { r, victim, mallory, open } = await fabric({ policy });
    await mallory.call(MATH, "m1");
    expect(nack(mallory)).toEqual({ code: "not_authorized", notExecuted: true });
    await open(mallory, "mch");
    expect(nack(mallory)).toEqual({ code: "not_authorized", notExecuted: true });
    await victim.call(MATH, "v1");
    expect(r.data().map((e) => e.corrId)).toEqual(["v1"]);
    expect(r.link.frames("SecureOpen")).toHaveLength(0);
  });

  it("holds a call to a replica's physical address to the policy of what it serves under that name", async () => {
    const policy: AccessPolicy = {
      mayServe: () => true,
      mayCall: (node: NodeSession, address: string) => node.systemId !== "mallory" || address !== MATH,
    };
    const { r, victim, mallory } = await fabric({ policy });
    const physical = (name: string) => `${name}@${r.session.path}`;
    // math@/path reaches the agent served as math@fame.fabric, which mallory may not call
    await mallory.call(physical("math"), "m1");
    expect(nack(mallory)).toEqual({ code: "not_authorized", notExecuted: true });
    // the victim may call math: directly at the replica too
    await victim.call(physical("math"), "v1");
    expect(r.data().map((e) => e.corrId)).toEqual(["v1"]);
    // a name the replica serves nothing under reaches no agent (nodes dispatch by name): allowed
    await mallory.send({
      to: physical("rpc"),
      replyTo: replyOf(mallory),
      corrId: "m2",
      frame: { type: "Data", codec: "json", payload: { jsonrpc: "2.0", id: "m2", result: 1 } },
    });
    expect(r.data().map((e) => e.corrId)).toEqual(["v1", "m2"]);
    // to the logical address, any frame needs the policy: a nack reaches the pool as a call does
    await mallory.send({
      to: MATH,
      replyTo: replyOf(mallory),
      corrId: "m3",
      frame: { type: "DeliveryAck", ok: false, refId: "x", code: "unknown_frame" },
    });
    expect(nack(mallory)).toEqual({ code: "not_authorized", notExecuted: true });
  });

  it("delivers a callee's answer at the reply address its caller named, though the policy forbids the callee calls there", async () => {
    // the caller serves LEDGER, which the replica's principal may not call: as its reply address
    // for calls to MATH, every answer was refused and the honest replica left holding unanswered
    // calls, to be ejected as stalled (audit round 13)
    const LEDGER = "ledger@fame.fabric";
    const policy: AccessPolicy = {
      mayServe: () => true,
      mayCall: (node: NodeSession, address: string) => node.systemId !== "r" || address !== LEDGER,
    };
    const { s, r } = await fabric({ policy });
    const mallory = await attachNode(s, "mallory2", ["*.fame.fabric"]);
    await mallory.send({ frame: { type: "AddressBind", address: LEDGER } });
    expect(mallory.link.last().frame).toMatchObject({ type: "AddressBindAck", ok: true });
    const ledgerOf = (n: TestNode) => `ledger@${n.session.path}`;
    await mallory.send({
      to: MATH,
      replyTo: ledgerOf(mallory),
      corrId: "c1",
      frame: { type: "Data", codec: "json", payload: { jsonrpc: "2.0", id: "c1", method: "add" } },
    });
    expect(s.inflight.size).toBe(1);
    const answer = (corrId: string) =>
      r.send({
        to: ledgerOf(mallory),
        corrId,
        frame: { type: "Data", codec: "json", payload: { jsonrpc: "2.0", id: corrId, result: 1 } },
      });
    await answer("c1");
    expect(mallory.data().map((e) => e.corrId)).toEqual(["c1"]);
    expect(s.inflight.size).toBe(0);
    // anything else from the replica to that address is still held to the policy
    await answer("c1");
    expect(nack(r)).toEqual({ code: "not_authorized", notExecuted: true });
    await r.send({
      to: ledgerOf(mallory),
      replyTo: replyOf(r),
      corrId: "r1",
      frame: { type: "Data", codec: "json", payload: { jsonrpc: "2.0", id: "r1", method: "add" } },
    });
    expect(nack(r)).toEqual({ code: "not_authorized", notExecuted: true });
    expect(mallory.data().map((e) => e.corrId)).toEqual(["c1"]);
  });

  it("routes no KeyAnnounce from a node: only the sentinel vouches for a key's owner", async () => {
    const { victim, mallory } = await fabric();
    const before = victim.link.frames("KeyAnnounce").length;
    await mallory.send({
      to: replyOf(victim),
      corrId: "k1",
      frame: { type: "KeyAnnounce", keys: [], sid: mallory.session.sid },
    });
    expect(nack(mallory)).toEqual({ code: "not_authorized", notExecuted: true });
    expect(victim.link.frames("KeyAnnounce")).toHaveLength(before);
  });

  it("keeps a session to the client that created it: others may not use, end or move it", async () => {
    const { s } = await fabric();
    const [x1, x2] = [
      await attachNode(s, "x1", ["*.fame.fabric"]),
      await attachNode(s, "x2", ["*.fame.fabric"]),
    ];
    for (const x of [x1, x2]) await x.send({ frame: { type: "AddressBind", address: EXCL } });
    const owner = await attachNode(s, "owner");
    const other = await attachNode(s, "other");
    await owner.call(EXCL, "o1", { "session-id": "S" });
    const holder = [x1, x2].find((x) => x.data().some((e) => e.corrId === "o1"))!;
    await holder.answerLast();
    await other.call(EXCL, "e1", { "session-id": "S" });
    expect(nack(other)).toEqual({ code: "session_not_owned", notExecuted: true });
    await other.call(EXCL, "e2", { "session-id": "S", "session-end": true });
    expect(nack(other)).toEqual({ code: "session_not_owned", notExecuted: true });
    await owner.call(EXCL, "o2", { "session-id": "S" });
    expect(holder.data().at(-1)?.corrId).toBe("o2");
    expect(x1.data().length + x2.data().length).toBe(2);
    const refusals = s.status()["refusedByCode"] as Record<string, number>;
    expect(refusals["session_not_owned"]).toBe(2);
  });

  it("caps the sessions one client holds in an exclusive pool", async () => {
    const { s } = await fabric({ maxExclusiveSessionsPerClient: 1 });
    const xs = [await attachNode(s, "x1", ["*.fame.fabric"]), await attachNode(s, "x2", ["*.fame.fabric"])];
    for (const x of xs) await x.send({ frame: { type: "AddressBind", address: EXCL } });
    const greedy = await attachNode(s, "greedy");
    const fair = await attachNode(s, "fair");
    await greedy.call(EXCL, "g1", { "session-id": "G1" });
    await greedy.call(EXCL, "g2", { "session-id": "G2" });
    expect(nack(greedy)).toEqual({ code: "too_many_client_sessions", notExecuted: true });
    // its own session still routes
    await greedy.call(EXCL, "g3", { "session-id": "G1" });
    expect(greedy.link.frames("DeliveryAck")).toHaveLength(1);
    await fair.call(EXCL, "f1", { "session-id": "F1" });
    const got = xs.flatMap((x) => x.data().map((e) => e.corrId));
    expect(got.sort()).toEqual(["f1", "g1", "g3"]);
  });
});
