import { defaultBackend } from "@fame/crypto";
import { type BatchEntry, base64urlEncode, type Envelope, makeEnvelope, signingInput } from "@fame/protocol";
import { AFTLoadBalancerStickinessManager } from "@fame/sentinel";
import { describe, expect, it } from "vitest";
import { FakeLink } from "./fake-link.js";
import { acceptChannel, attachNode, makeSentinel } from "./test-node.js";

/**
 * Coalesced channel records (Data codec enc with a `batch` list) through the sentinel:
 * each entry is accounted as a call of its own, while the record travels as one frame.
 */

const backend = defaultBackend();
const MATH = "math@fame.fabric";
const CID = "ch1";

/** A FakeLink that also keeps each frame exactly as the sentinel wrote it. */
class RawLink extends FakeLink {
  readonly raw: string[] = [];
  override send(data: string | Buffer): void {
    this.raw.push(typeof data === "string" ? data : data.toString());
    super.send(data);
  }
}

/**
 * Two replicas of math@fame.fabric and a client whose channel CID is pinned (strict AFT)
 * to the replica that accepted it.
 */
async function pinnedChannel(maxInflight = 100) {
  const s = makeSentinel(
    "overlay",
    new AFTLoadBalancerStickinessManager({ securityLevel: "strict" }),
    maxInflight,
  );
  const r1 = await attachNode(s, "r1", ["*.fame.fabric"], "overlay", new RawLink());
  const r2 = await attachNode(s, "r2", ["*.fame.fabric"], "overlay", new RawLink());
  const c = await attachNode(s, "c", [], "overlay", new RawLink());
  for (const r of [r1, r2]) {
    await r.send({ frame: { type: "AddressBind", address: MATH } });
    expect(r.link.last().frame).toMatchObject({ type: "AddressBindAck", ok: true });
  }
  const replyTo = `rpc@${c.session.path}`;
  const ephPub = base64urlEncode(backend.x25519Keygen().publicKey);
  await c.send({
    to: MATH,
    replyTo,
    corrId: "open1",
    frame: { type: "SecureOpen", cid: CID, ephPub, alg: "CHACHA20P1305" },
  });
  const replica = r1.link.frames("SecureOpen").length === 1 ? r1 : r2;
  const other = replica === r1 ? r2 : r1;
  await acceptChannel(replica, c, CID, ephPub, "open1");
  expect(c.link.frames("SecureAccept")).toHaveLength(1);
  expect(s.inflight.size).toBe(0);
  let seq = 0;
  /** a coalesced record (or, given a corrId, a single message) on the pinned channel to the pool */
  const request = (batch: BatchEntry[] | string) =>
    makeEnvelope({
      sid: c.session.sid,
      to: MATH,
      replyTo,
      ...(typeof batch === "string" ? { corrId: batch } : {}),
      frame: {
        type: "Data",
        codec: "enc",
        ct: base64urlEncode(new Uint8Array(48).fill(5)),
        ...(typeof batch === "string" ? {} : { batch }),
      },
      sec: { enc: { alg: "chacha20-poly1305-channel", cid: CID, seq: ++seq, kid: "k", ac: "AAAAAAAAAAA" } },
    });
  let replySeq = 0;
  /** the replica's answer: sealed data to the client's physical address */
  const reply = (init: { batch?: BatchEntry[]; corrId?: string }) =>
    makeEnvelope({
      sid: replica.session.sid,
      to: replyTo,
      replyTo: `rpc@${replica.session.path}`,
      ...(init.corrId ? { corrId: init.corrId } : {}),
      frame: {
        type: "Data",
        codec: "enc",
        ct: base64urlEncode(new Uint8Array(48).fill(6)),
        ...(init.batch ? { batch: init.batch } : {}),
      },
      sec: {
        enc: { alg: "chacha20-poly1305-channel", cid: CID, seq: ++replySeq, kid: "k", ac: "AAAAAAAAAAA" },
      },
    });
  /** requests the pool counts against the pinned replica (the least_inflight load) */
  const poolLoad = () =>
    (
      s.status()["pools"] as { pools: { address: string; members: { id: string; inflight: number }[] }[] }
    ).pools
      .find((p) => p.address === MATH)
      ?.members.find((m) => m.id === replica.session.id)?.inflight;
  return { s, c, replica, other, replyTo, request, reply, poolLoad };
}

const nacks = (link: FakeLink, code: string) =>
  link.frames("DeliveryAck").filter((e) => (e.frame as { code?: string }).code === code);

const entries = (...ids: string[]): BatchEntry[] => ids.map((corrId) => ({ corrId }));

describe("Sentinel with coalesced channel records", () => {
  it("forwards a batched record byte for byte to the pinned replica and tracks each entry", async () => {
    const { s, c, replica, other, request, poolLoad } = await pinnedChannel();
    const env = request(entries("q1", "q2", "q3"));
    const text = await c.sendRaw(env);
    expect(replica.link.raw.at(-1)).toBe(text);
    expect(replica.link.frames("Data")).toHaveLength(1);
    expect(other.link.frames("Data")).toHaveLength(0);
    expect(s.inflight.countFor(c.session.id)).toBe(3);
    expect(s.inflight.size).toBe(3);
    expect(poolLoad()).toBe(3);
    expect(c.link.frames("DeliveryAck")).toHaveLength(0);
  });

  it("completes only the final entries of a reply batch", async () => {
    const { s, c, replica, request, reply, poolLoad } = await pinnedChannel();
    await c.sendRaw(request(entries("q1", "q2", "q3")));
    expect(s.inflight.countFor(c.session.id)).toBe(3);
    // q1 is a stream: an item (more) comes with the answers to q2 and q3
    const answer = await replica.sendRaw(
      reply({ batch: [{ corrId: "q1", more: true }, { corrId: "q2" }, { corrId: "q3" }] }),
    );
    expect(c.link.raw.at(-1)).toBe(answer);
    expect(s.inflight.countFor(c.session.id)).toBe(1);
    expect(poolLoad()).toBe(1);
    // more items of q1, batched, still leave it in flight
    await replica.sendRaw(
      reply({
        batch: [
          { corrId: "q1", more: true },
          { corrId: "q1", more: true },
        ],
      }),
    );
    expect(s.inflight.countFor(c.session.id)).toBe(1);
    // the stream's end, alone, completes it
    await replica.sendRaw(reply({ corrId: "q1" }));
    expect(s.inflight.countFor(c.session.id)).toBe(0);
    expect(s.inflight.size).toBe(0);
    expect(poolLoad()).toBe(0);
    expect(c.link.frames("Data")).toHaveLength(3);
  });

  it("gives the pool its load back when one record repeats a conversation", async () => {
    const { s, c, replica, request, reply, poolLoad } = await pinnedChannel();
    await c.sendRaw(request([{ corrId: "d" }, { corrId: "d" }, { corrId: "e" }]));
    // one conversation, one entry; the load it counts is given back with it
    expect(s.inflight.countFor(c.session.id)).toBe(2);
    expect(poolLoad()).toBe(2);
    await replica.sendRaw(reply({ batch: entries("d", "e") }));
    expect(s.inflight.countFor(c.session.id)).toBe(0);
    expect(poolLoad()).toBe(0);
  });

  it("refuses a batch that would exceed the per-connection cap with one too_many_inflight per entry", async () => {
    const { s, c, replica, request } = await pinnedChannel(4);
    await c.sendRaw(request(entries("a1", "a2", "a3")));
    expect(s.inflight.countFor(c.session.id)).toBe(3);
    const over = request(entries("b1", "b2"));
    await c.sendRaw(over);
    const refused = nacks(c.link, "too_many_inflight");
    expect(refused.map((e) => e.corrId)).toEqual(["b1", "b2"]);
    for (const e of refused) {
      expect(e.frame).toMatchObject({ type: "DeliveryAck", ok: false, refId: over.id });
      expect(e.to).toBe(over.replyTo);
    }
    // refused whole: nothing of it was forwarded or tracked
    expect(replica.link.frames("Data")).toHaveLength(1);
    expect(s.inflight.countFor(c.session.id)).toBe(3);
    // a single call still fits, and then a batch of two no longer does even with room for one
    await c.sendRaw(request("c1"));
    expect(s.inflight.countFor(c.session.id)).toBe(4);
    expect(replica.link.frames("Data")).toHaveLength(2);
    await c.sendRaw(request(entries("c2", "c3")));
    expect(nacks(c.link, "too_many_inflight").map((e) => e.corrId)).toEqual(["b1", "b2", "c2", "c3"]);
  });

  it("nacks every tracked entry with replica_unavailable when the replica's link closes", async () => {
    const { s, c, replica, request, reply } = await pinnedChannel();
    const first = request(entries("q1", "q2", "q3"));
    await c.sendRaw(first);
    const second = request([{ corrId: "q4" }, { corrId: "q5" }]);
    await c.sendRaw(second);
    // q2 was answered: it must not be nacked
    await replica.sendRaw(reply({ corrId: "q2" }));
    expect(s.inflight.countFor(c.session.id)).toBe(4);
    replica.link.close(1006, "gone");
    s.close(replica.session, "killed");
    const gone = nacks(c.link, "replica_unavailable");
    expect(gone.map((e) => e.corrId).sort()).toEqual(["q1", "q3", "q4", "q5"]);
    const refIds = Object.fromEntries(gone.map((e) => [e.corrId, (e.frame as { refId: string }).refId]));
    expect(refIds).toEqual({ q1: first.id, q3: first.id, q4: second.id, q5: second.id });
    expect(s.inflight.size).toBe(0);
    expect(s.counters.replicaUnavailableNacks).toBe(4);
  });

  it("refuses a batch on a channel nobody holds with one nack per entry", async () => {
    const { c, replica, other, request } = await pinnedChannel();
    const env = request(entries("x1", "x2", "x3"));
    (env.sec as { enc: { cid: string } }).enc.cid = "nochan";
    await c.sendRaw(env);
    const refused = nacks(c.link, "channel_unknown");
    expect(refused.map((e) => e.corrId)).toEqual(["x1", "x2", "x3"]);
    for (const e of refused) expect(e.meta).toEqual({ notExecuted: true });
    expect(replica.link.frames("Data")).toHaveLength(0);
    expect(other.link.frames("Data")).toHaveLength(0);
  });
});

describe("Sentinel with clear batches (overlay profile: one signature per batch)", () => {
  async function calls() {
    const s = makeSentinel("overlay", undefined, 100);
    const r = await attachNode(s, "r1", ["*.fame.fabric"], "overlay");
    const c = await attachNode(s, "c", [], "overlay");
    await r.send({ frame: { type: "AddressBind", address: MATH } });
    const replyTo = `rpc@${c.session.path}`;
    for (const corrId of ["q1", "q2"])
      await c.send({
        to: MATH,
        replyTo,
        corrId,
        frame: { type: "Data", codec: "json", payload: { jsonrpc: "2.0", id: corrId, method: "add" } },
      });
    expect(r.link.frames("Data")).toHaveLength(2);
    expect(s.inflight.size).toBe(2);
    const answers = () => ({
      to: replyTo,
      frame: {
        type: "Data" as const,
        codec: "json" as const,
        payload: [
          { jsonrpc: "2.0", id: "q1", result: 1 },
          { jsonrpc: "2.0", id: "q2", result: 2 },
        ],
        batch: entries("q1", "q2"),
      },
    });
    return { s, r, c, answers };
  }

  it("forwards the callee's signed batch of answers and completes each call", async () => {
    const { s, r, c, answers } = await calls();
    await r.send(answers());
    expect(c.link.frames("Data")).toHaveLength(1);
    expect(s.inflight.size).toBe(0);
  });

  it("refuses a batch whose list or payloads changed after signing: nothing delivered, one nack per entry", async () => {
    const tampered: ((f: { payload: unknown[]; batch: BatchEntry[] }) => void)[] = [
      (f) => f.batch.reverse(),
      (f) => (f.batch[1] = { corrId: "q2", more: true }),
      (f) => f.payload.reverse(),
    ];
    for (const change of tampered) {
      const { s, r, c, answers } = await calls();
      const signed = await signedBy(r, answers());
      change(signed.frame as unknown as { payload: unknown[]; batch: BatchEntry[] });
      await r.sendRaw(signed);
      expect(c.link.frames("Data")).toHaveLength(0);
      expect(nacks(r.link, "signature_invalid")).toHaveLength(2);
      expect(s.inflight.size).toBe(2);
    }
  });
});

/** `init` from `node`, signed as its send() would, but not sent: the test changes it first */
async function signedBy(
  node: Awaited<ReturnType<typeof attachNode>>,
  init: Omit<Parameters<typeof makeEnvelope>[0], "sid">,
): Promise<Envelope> {
  const env = makeEnvelope({ sid: node.session.sid, ...init } as Parameters<typeof makeEnvelope>[0]);
  const key = defaultBackend().ed25519ImportSigningKey(node.seed);
  env.sec = {
    sig: {
      alg: "EdDSA",
      kid: node.kid,
      val: base64urlEncode(defaultBackend().ed25519Sign(key, signingInput(env))),
    },
  };
  return env;
}
