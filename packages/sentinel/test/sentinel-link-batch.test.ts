import { defaultBackend } from "@fame/crypto";
import {
  base64urlEncode,
  type Envelope,
  type EnvelopeInit,
  encodeEnvelope,
  makeEnvelope,
  signingInput,
} from "@fame/protocol";
import { describe, expect, it } from "vitest";
import { LinkBatcher } from "../src/link-batcher.js";
import { attachNode, makeSentinel, type TestNode } from "./test-node.js";

/** Link batches into the sentinel: each entry goes through the pipeline as if it came alone. */

const backend = defaultBackend();
const MATH = "math@fame.fabric";

function signed(node: TestNode, init: Omit<EnvelopeInit, "sid">, sid = node.session.sid): string {
  const env = makeEnvelope({ sid, ...init } as EnvelopeInit);
  const key = backend.ed25519ImportSigningKey(node.seed);
  env.sec = {
    sig: { alg: "EdDSA", kid: node.kid, val: base64urlEncode(backend.ed25519Sign(key, signingInput(env))) },
  };
  return encodeEnvelope(env);
}

async function fabric(maxInflight = 100) {
  const s = makeSentinel("overlay", undefined, maxInflight);
  const r = await attachNode(s, "r", ["*.fame.fabric"], "overlay");
  const c = await attachNode(s, "c", [], "overlay");
  const m = await attachNode(s, "m", [], "overlay");
  await r.send({ frame: { type: "AddressBind", address: MATH } });
  const call = (i: number, node = c, sid?: string) =>
    signed(
      node,
      {
        to: MATH,
        replyTo: `rpc@${node.session.path}`,
        corrId: `q${i}`,
        frame: { type: "Data", codec: "json", payload: i },
      },
      sid,
    );
  return { s, r, c, m, call };
}

const codes = (sent: Envelope[]) =>
  sent.filter((e) => e.frame.type === "DeliveryAck").map((e) => (e.frame as { code?: string }).code);

describe("Sentinel: link batches", () => {
  it("routes every entry of a batch, forwarding each entry's received bytes", async () => {
    const { s, r, c, call } = await fabric();
    const texts = [0, 1, 2].map((i) => call(i));
    const forwarded: (string | Buffer)[] = [];
    const send = r.link.send.bind(r.link);
    r.link.send = (data) => {
      forwarded.push(data);
      send(data);
    };
    await s.receive(c.session, Buffer.from(`[${texts.join(",")}]`));
    expect(r.link.frames("Data").map((e) => (e.frame as { payload: number }).payload)).toEqual([0, 1, 2]);
    expect(forwarded.map((d) => d.toString())).toEqual(texts);
  });

  it("refuses a forged-sid entry and a bad entry alone, the others are served", async () => {
    const { s, r, c, m, call } = await fabric();
    const bad = JSON.stringify({ ...JSON.parse(call(9)), ts: "yesterday" });
    const forged = call(7, c, m.session.sid);
    await s.receive(c.session, Buffer.from(`[${call(0)},${forged},${bad},${call(1)}]`));
    expect(r.link.frames("Data").map((e) => (e.frame as { payload: number }).payload)).toEqual([0, 1]);
    expect(codes(c.link.sent)).toEqual(["not_authorized", "bad_envelope"]);
    expect(codes(m.link.sent)).toEqual([]);
  });

  it("refuses a malformed batch as a whole, like a bad frame", async () => {
    const { s, r, c, call } = await fabric();
    for (const text of [
      `[[${call(0)}]]`,
      `[${call(1)},[${call(2)}]]`,
      `[${call(3)}`,
      "[]",
      `[${call(4)},{"v":}]`,
    ]) {
      await s.receive(c.session, Buffer.from(text));
    }
    expect(r.link.frames("Data")).toHaveLength(0);
    expect(codes(c.link.sent)).toEqual(new Array(5).fill("bad_envelope"));
    expect(s.counters.badFrames).toBe(5);
  });

  it("counts in-flight calls per entry: a batch cannot pass the cap", async () => {
    const { s, r, c, call } = await fabric(4);
    const texts = [0, 1, 2, 3, 4, 5].map((i) => call(i));
    await s.receive(c.session, Buffer.from(`[${texts.join(",")}]`));
    expect(r.link.frames("Data")).toHaveLength(4);
    expect(codes(c.link.sent)).toEqual(["too_many_inflight", "too_many_inflight"]);
  });

  it("refuses a batch from a connection that has not attached", async () => {
    const s = makeSentinel("open");
    const link = new (await import("./fake-link.js")).FakeLink();
    const session = s.open(link);
    const attach = encodeEnvelope(
      makeEnvelope({
        sid: "pending",
        frame: { type: "NodeAttach", systemId: "x", instanceId: "i", logicals: [], keys: [] },
      }),
    );
    await s.receive(session, `[${attach}]`);
    expect(link.closed).toBeDefined();
    expect(session.state).toBe("closed");
  });
});

describe("LinkBatcher", () => {
  function batcher(maxEntries: number | undefined, maxBytes = 64 * 1024) {
    const written: string[] = [];
    const corks = { cork: 0, uncork: 0 };
    const b = new LinkBatcher({ cork: () => corks.cork++, uncork: () => corks.uncork++ }, (d) =>
      written.push(d.toString()),
    );
    if (maxEntries !== undefined) b.batchTo(maxEntries, maxBytes);
    return { b, written, corks };
  }
  const tick = () => new Promise<void>((resolve) => process.nextTick(resolve));

  it("without batching writes each frame at once, corked for the turn", async () => {
    const { b, written, corks } = batcher(undefined);
    b.send('{"a":1}');
    b.send(Buffer.from('{"a":2}'));
    expect(written).toEqual(['{"a":1}', '{"a":2}']);
    await tick();
    expect(corks).toEqual({ cork: 1, uncork: 1 });
  });

  it("a lone frame leaves as it is at the end of the turn", async () => {
    const { b, written } = batcher(32);
    b.send('{"a":1}');
    expect(written).toEqual([]);
    await tick();
    expect(written).toEqual(['{"a":1}']);
  });

  it("several frames of one turn leave as one batch, strings and buffers alike", async () => {
    const { b, written } = batcher(32);
    b.send('{"a":"é"}');
    b.send(Buffer.from('{"b":2}'));
    await tick();
    expect(written).toEqual(['[{"a":"é"},{"b":2}]']);
    expect(JSON.parse(written[0]!)).toEqual([{ a: "é" }, { b: 2 }]);
  });

  it("flushes at once when the entry bound is reached", async () => {
    const { b, written } = batcher(3);
    for (let i = 0; i < 4; i++) b.send(`{"i":${i}}`);
    expect(written).toEqual(['[{"i":0},{"i":1},{"i":2}]']);
    await tick();
    expect(written).toEqual(['[{"i":0},{"i":1},{"i":2}]', '{"i":3}']);
  });

  it("flush() writes what is held at once (before a close)", () => {
    const { b, written } = batcher(32);
    b.send('{"i":0}');
    b.send('{"i":1}');
    b.flush();
    expect(written).toEqual(['[{"i":0},{"i":1}]']);
  });

  it("splits by the byte bound; an entry larger than it goes alone", async () => {
    const { b, written } = batcher(32, 20);
    b.send('{"i":0}');
    b.send('{"i":1}');
    b.send(`{"x":"${"y".repeat(30)}"}`);
    b.send('{"i":2}');
    await tick();
    expect(written).toEqual(['[{"i":0},{"i":1}]', `{"x":"${"y".repeat(30)}"}`, '{"i":2}']);
    for (const w of written.slice(0, 1)) expect(Buffer.byteLength(w)).toBeLessThanOrEqual(20);
  });
});
