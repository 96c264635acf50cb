import { type BatchEntry, CLEAR_BATCH_CAPABILITY, NOT_EXECUTED_META } from "@fame/protocol";
import { describe, expect, it } from "vitest";
import { FakeLink } from "./fake-link.js";
import { attachNode, makeSentinel } from "./test-node.js";

/**
 * Clear batches of calls to a logical address (`Data` codec json with a `batch` list): the pool
 * places the whole batch on one replica that announced CLEAR_BATCH_CAPABILITY, each entry is a
 * call of its own for the in-flight accounting, and a replica that announced nothing never
 * receives one (the caller is refused, not executed, and resends one call per envelope).
 */

const MATH = "math@fame.fabric";
const TAKES = [CLEAR_BATCH_CAPABILITY];

async function pool(replicaCapabilities: string[][]) {
  const s = makeSentinel("overlay", undefined, 100);
  const replicas = [];
  for (const [i, caps] of replicaCapabilities.entries()) {
    const r = await attachNode(s, `r${i}`, ["*.fame.fabric"], "overlay", new FakeLink(), caps);
    await r.send({ frame: { type: "AddressBind", address: MATH } });
    expect(r.link.last().frame).toMatchObject({ type: "AddressBindAck", ok: true });
    replicas.push(r);
  }
  const c = await attachNode(s, "c", [], "overlay", new FakeLink(), TAKES);
  const replyTo = `rpc@${c.session.path}`;
  const batch = (...ids: string[]) =>
    c.send({
      to: MATH,
      replyTo,
      frame: {
        type: "Data",
        codec: "json",
        payload: ids.map((id) => ({ jsonrpc: "2.0", id, method: "add", params: { x: 1, y: 2 } })),
        batch: ids.map((corrId): BatchEntry => ({ corrId })),
      },
    });
  return { s, c, replicas, replyTo, batch };
}

describe("clear batches to a pool", () => {
  it("answers poolBatches only to a node that announced the capability", async () => {
    const { replicas, c } = await pool([TAKES, []]);
    expect(c.link.frames("NodeAttachAck")[0]!.frame).toMatchObject({ poolBatches: true });
    expect(replicas[0]!.link.frames("NodeAttachAck")[0]!.frame).toMatchObject({ poolBatches: true });
    expect(replicas[1]!.link.frames("NodeAttachAck")[0]!.frame).not.toHaveProperty("poolBatches");
  });

  it("places a signed batch on one replica as one frame, each entry tracked until its answer", async () => {
    const { s, c, replicas, replyTo, batch } = await pool([TAKES, TAKES]);
    await batch("q1", "q2", "q3");
    const got = replicas.filter((r) => r.link.frames("Data").length > 0);
    expect(got).toHaveLength(1);
    const replica = got[0]!;
    expect(replica.link.frames("Data")).toHaveLength(1);
    expect(s.inflight.countFor(c.session.id)).toBe(3);
    expect(c.link.frames("DeliveryAck")).toHaveLength(0);
    // the next batch goes to the other replica: the pool spreads batches
    await batch("q4", "q5");
    expect(replicas.every((r) => r.link.frames("Data").length === 1)).toBe(true);
    // answers in one batch complete their calls
    await replica.send({
      to: replyTo,
      replyTo: `rpc@${replica.session.path}`,
      frame: {
        type: "Data",
        codec: "json",
        payload: [{ result: 3 }, { result: 3 }, { result: 3 }],
        batch: [{ corrId: "q1" }, { corrId: "q2" }, { corrId: "q3" }],
      },
    });
    expect(c.link.frames("Data")).toHaveLength(1);
    expect(s.inflight.countFor(c.session.id)).toBe(2);
  });

  it("refuses a batch for a replica that takes none: one not-executed unknown_frame per call, nothing delivered", async () => {
    const { s, c, replicas, replyTo, batch } = await pool([[]]);
    await batch("q1", "q2");
    const old = replicas[0]!;
    expect(old.link.frames("Data")).toHaveLength(0);
    const nacks = c.link.frames("DeliveryAck");
    expect(nacks.map((e) => e.corrId)).toEqual(["q1", "q2"]);
    for (const nack of nacks) {
      expect(nack.frame).toMatchObject({ ok: false, code: "unknown_frame" });
      expect(nack.meta?.[NOT_EXECUTED_META]).toBe(true);
    }
    expect(s.inflight.countFor(c.session.id)).toBe(0);
    // the same calls one per envelope reach it
    await c.send({
      to: MATH,
      replyTo,
      corrId: "q1",
      frame: { type: "Data", codec: "json", payload: { jsonrpc: "2.0", id: "q1", method: "add" } },
    });
    expect(old.link.frames("Data")).toHaveLength(1);
    expect(s.inflight.countFor(c.session.id)).toBe(1);
  });

  it("a batch over the connection's in-flight cap is refused whole, before any replica sees it", async () => {
    const { s, c, replicas, batch } = await pool([TAKES]);
    const ids = Array.from({ length: 101 }, (_, i) => `q${i}`);
    await batch(...ids);
    expect(replicas[0]!.link.frames("Data")).toHaveLength(0);
    expect(
      c.link.frames("DeliveryAck").every((e) => (e.frame as { code?: string }).code === "too_many_inflight"),
    ).toBe(true);
    expect(s.inflight.countFor(c.session.id)).toBe(0);
  });
});
