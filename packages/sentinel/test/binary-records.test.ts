import {
  BINARY_BATCH_RECORD_TAG,
  BINARY_RECORD_TAG,
  type DataEnc,
  decodeBinaryRecord,
  encodeBinaryRecord,
  makeEnvelope,
  recordBytes,
  setRecordBytes,
} from "@fame/protocol";
import { describe, expect, it } from "vitest";
import { LinkBatcher } from "../src/link-batcher.js";
import { FakeLink } from "./fake-link.js";
import { attachNode, makeSentinel, type TestNode } from "./test-node.js";

/** A link that takes binary messages too: what a node that announced binary records has. */
class BinaryLink extends FakeLink {
  readonly binary: Uint8Array[] = [];
  sendBinary(data: Buffer | Uint8Array): void {
    this.binary.push(Uint8Array.from(data));
  }
}

/** a binary sealed record from `from` to `to` (the ciphertext is opaque to the sentinel) */
function record(from: TestNode, to: string, ctBytes: number, batchList = false): Uint8Array {
  const frame: DataEnc = {
    type: "Data",
    codec: "enc",
    ct: "",
    ...(batchList ? { batch: [{ corrId: "c1" }, { corrId: "c2", more: true as const }] } : {}),
  };
  const env = makeEnvelope({
    sid: from.session.sid,
    to,
    replyTo: `rpc@${from.session.path}`,
    ...(batchList ? {} : { corrId: "c1" }),
    frame,
    sec: { enc: { alg: "chacha20-poly1305-channel", cid: "cid1", seq: 1, kid: "k1", ac: "AAAAAAAAAAA" } },
  });
  setRecordBytes(
    frame,
    new Uint8Array(ctBytes).map((_, i) => i & 0xff),
  );
  return encodeBinaryRecord(env, undefined, batchList);
}

async function pair(replicaBinary: boolean, replicaBatchList = replicaBinary) {
  const s = makeSentinel("open");
  const client = await attachNode(s, "client", [], "open", new BinaryLink());
  const replica = await attachNode(s, "replica", [], "open", new BinaryLink());
  // what attach sets when the node announces the capability (see authenticate-stage)
  client.session.binaryRecords = true;
  client.session.binaryBatch = true;
  replica.session.binaryRecords = replicaBinary;
  replica.session.binaryBatch = replicaBatchList;
  return { s, client, replica };
}

describe("binary sealed records at the sentinel", () => {
  it("forwards a binary record's bytes as received to a node that announced them", async () => {
    const { s, client, replica } = await pair(true);
    const wire = record(client, `rpc@${replica.session.path}`, 300);
    await s.receive(client.session, Buffer.from(wire), true);
    expect(replica.link.binary).toHaveLength(1);
    expect(replica.link.binary[0]).toEqual(wire);
    expect(client.link.frames("DeliveryAck")).toEqual([]);
  });

  it("gives a node that did not announce them the text form of the same record", async () => {
    const { s, client, replica } = await pair(false);
    const wire = record(client, `rpc@${replica.session.path}`, 300);
    await s.receive(client.session, Buffer.from(wire), true);
    expect(replica.link.binary).toEqual([]);
    const text = replica.link.last();
    const sent = decodeBinaryRecord(wire);
    expect(text.id).toBe(sent.id);
    expect(Buffer.from((text.frame as DataEnc).ct, "base64url")).toEqual(
      Buffer.from(recordBytes(sent.frame)!),
    );
  });

  it("refuses a record too large for the text form a node needs (frame_too_large, not executed)", async () => {
    const { s, client, replica } = await pair(false);
    // fits the sentinel's 64 KiB as bytes, not as base64url text
    const wire = record(client, `rpc@${replica.session.path}`, 60 * 1024);
    await s.receive(client.session, Buffer.from(wire), true);
    expect(replica.link.sent.filter((e) => e.frame.type === "Data")).toEqual([]);
    const nack = client.link.last();
    expect(nack.frame).toMatchObject({ type: "DeliveryAck", ok: false, code: "frame_too_large" });
    expect(nack.meta).toMatchObject({ notExecuted: true });
  });

  it("forwards a batch list as bytes (0x02) as received to a node that takes that form", async () => {
    const { s, client, replica } = await pair(true);
    const wire = record(client, `rpc@${replica.session.path}`, 300, true);
    expect(wire[0]).toBe(BINARY_BATCH_RECORD_TAG);
    await s.receive(client.session, Buffer.from(wire), true);
    expect(replica.link.binary).toEqual([wire]);
  });

  it("gives a node of an older release, with binary records but no batch-list form, the 0x01 form", async () => {
    const { s, client, replica } = await pair(true, false);
    const wire = record(client, `rpc@${replica.session.path}`, 300, true);
    await s.receive(client.session, Buffer.from(wire), true);
    expect(replica.link.binary).toHaveLength(1);
    const got = replica.link.binary[0]!;
    expect(got[0]).toBe(BINARY_RECORD_TAG);
    expect(decodeBinaryRecord(got)).toEqual(decodeBinaryRecord(wire));
    expect(client.link.frames("DeliveryAck")).toEqual([]);
  });

  it("answers an undecodable binary message with one typed nack", async () => {
    const { s, client } = await pair(true);
    await s.receive(client.session, Buffer.from([1, 0, 0, 0, 3, 0x7b, 0x7d]), true);
    expect(client.link.last().frame).toMatchObject({ type: "DeliveryAck", ok: false, code: "bad_envelope" });
  });
});

describe("LinkBatcher.beforeBinary", () => {
  it("writes what a batch holds first, so a binary message keeps its place", async () => {
    const order: string[] = [];
    const b = new LinkBatcher({ cork: () => {}, uncork: () => {} }, (d) =>
      order.push(`text ${d.toString()}`),
    );
    b.batchTo(32, 64 * 1024);
    b.send('{"a":1}');
    b.send('{"a":2}');
    b.beforeBinary();
    order.push("binary");
    expect(order).toEqual(['text [{"a":1},{"a":2}]', "binary"]);
  });
});
