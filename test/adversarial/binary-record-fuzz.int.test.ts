import {
  BINARY_BATCH_CAPABILITY,
  BINARY_BATCH_RECORD_TAG,
  BINARY_RECORDS_CAPABILITY,
  type DataEnc,
  decodeBinaryRecord,
  ERROR_CODES,
  encodeBinaryRecord,
  isProtocolError,
  makeEnvelope,
  setRecordBytes,
} from "@fame/protocol";
import { stopAll } from "@fame/testkit";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Attacker } from "./support/attacker.js";
import { type LoneSentinel, startLoneSentinel } from "./support/lone-sentinel.js";

/**
 * Binary sealed records through a real sentinel, fuzzed like the JSON form (frame-fuzz): random
 * bytes, mutated and truncated records from a node that announced them. Every undecodable one
 * gets exactly one typed nack with the local decoder's code, the connection stays, the sentinel
 * stays up; a node that did not announce them is closed on its first binary message (1008).
 */
const MAX_FRAME = 1024 * 1024;
const RUNS = 40;
const PER_RUN = 25;

let sentinel: LoneSentinel;
let ids = 0;

const connect = () => Attacker.connect({ url: sentinel.attachUrl, ca: sentinel.trustBundle });

beforeAll(async () => {
  sentinel = await startLoneSentinel({
    env: {
      FAME_ATTACH_RATE_PER_MIN: "100000",
      FAME_MAX_PENDING_ATTACH_PER_IP: "1000",
      FAME_MAX_HANDSHAKES_PER_IP: "1000",
    },
  });
}, 120_000);

afterAll(async () => {
  if (sentinel) {
    expect(sentinel.proc.child.exitCode).toBeNull();
    await sentinel.stop();
  }
  await stopAll();
});

/** what the sentinel should answer, as the local decoder sees the bytes */
function verdict(bytes: Uint8Array): string | undefined {
  try {
    decodeBinaryRecord(bytes, { maxFrameBytes: MAX_FRAME });
    return undefined;
  } catch (err) {
    return isProtocolError(err) ? err.code : "bad_envelope";
  }
}

describe("fuzzing binary sealed records", () => {
  it(`answers ${RUNS * PER_RUN} random and mutated records with typed refusals and stays up`, async () => {
    const a = await connect();
    const ack = await a.attach({
      systemId: `binfuzz${ids++}`,
      capabilities: [BINARY_RECORDS_CAPABILITY, BINARY_BATCH_CAPABILITY],
    });
    expect(ack).toMatchObject({ ok: true, binaryRecords: true, binaryBatch: true });
    const frame: DataEnc = { type: "Data", codec: "enc", ct: "" };
    const env = makeEnvelope({
      sid: a.sid,
      to: "ghost@fame.fabric",
      replyTo: a.replyTo,
      corrId: "c1",
      frame,
      sec: { enc: { alg: "chacha20-poly1305-channel", cid: "cid1", seq: 1, kid: "k1", ac: "AAAAAAAAAAA" } },
    });
    setRecordBytes(frame, new Uint8Array(200).fill(9));
    const valid = encodeBinaryRecord(env);
    // the same record as a batch of three, its list as bytes (the 0x02 form)
    const listFrame: DataEnc = {
      type: "Data",
      codec: "enc",
      ct: "",
      batch: [{ corrId: "c1" }, { corrId: "c2", more: true }, { corrId: "c3" }],
    };
    const listEnv = { ...env, id: `${env.id}b`, corrId: undefined, frame: listFrame };
    setRecordBytes(listFrame, new Uint8Array(200).fill(9));
    const validList = encodeBinaryRecord(listEnv, undefined, true);
    expect(validList[0]).toBe(BINARY_BATCH_RECORD_TAG);
    const mutations = (base: Uint8Array) =>
      fc
        .array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 6,
        })
        .map((edits) => {
          const m = base.slice();
          for (const [i, b] of edits) m[i] = b;
          return m;
        });
    const messages = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      mutations(valid),
      mutations(validList),
      fc.nat(valid.length).map((n) => valid.slice(0, n)),
      fc.nat(validList.length).map((n) => validList.slice(0, n)),
    );
    let invalid = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(messages, { minLength: PER_RUN, maxLength: PER_RUN }), async (batch) => {
        const from = a.received.length;
        const expected = new Map<string, number>();
        for (const m of batch) {
          const v = verdict(m);
          if (v !== undefined) {
            invalid++;
            expected.set(v, (expected.get(v) ?? 0) + 1);
          }
          await a.sendBinary(Buffer.from(m));
        }
        const got = await a.undecodableNacksSince(from);
        expect(got).toEqual(Object.fromEntries(expected));
        expect(a.isOpen).toBe(true);
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
    for (const e of a.received) {
      if (e.frame.type === "DeliveryAck" && e.frame.ok === false) expect(ERROR_CODES).toContain(e.frame.code);
    }
    expect(a.undecodable).toBe(0);
    expect(invalid).toBeGreaterThan(RUNS * PER_RUN * 0.3);
    // the valid record itself is routed like any other: refused for its destination only. A
    // mutation above may have kept a record's id and changed another field (its replyTo: a
    // reply_to_not_owned nack naming the same id), so only nacks after each send count.
    const nackAfter = (from: number, id: string) =>
      a.waitFor(
        (e) =>
          a.received.indexOf(e) >= from &&
          e.frame.type === "DeliveryAck" &&
          e.frame.ok === false &&
          e.frame.refId === id,
      );
    let from = a.received.length;
    await a.sendBinary(Buffer.from(valid));
    expect((await nackAfter(from, env.id)).frame).toMatchObject({ code: "no_route" });
    from = a.received.length;
    await a.sendBinary(Buffer.from(validList));
    expect((await nackAfter(from, listEnv.id)).frame).toMatchObject({ code: "no_route" });
    await a.close();
  }, 120_000);

  it("refuses an oversized binary record with frame_too_large, connection kept", async () => {
    const a = await connect();
    await a.attach({ systemId: `binfuzz${ids++}`, capabilities: [BINARY_RECORDS_CAPABILITY] });
    const big = new Uint8Array(MAX_FRAME + 100);
    big[0] = 1;
    const from = a.received.length;
    await a.sendBinary(Buffer.from(big));
    const nack = await a.waitFor(
      (e) => a.received.indexOf(e) >= from && e.frame.type === "DeliveryAck" && e.frame.refId === "unknown",
    );
    expect(nack.frame).toMatchObject({ ok: false, code: "frame_too_large" });
    expect(a.isOpen).toBe(true);
    await a.close();
  });

  it("closes (1008) a node that sends a binary message without having announced them", async () => {
    const a = await connect();
    const ack = await a.attach({ systemId: `binfuzz${ids++}` });
    expect(ack.binaryRecords).toBeUndefined();
    await a.sendBinary(Buffer.from([1, 0, 0, 0, 2, 0x7b, 0x7d]));
    expect((await a.closed).code).toBe(1008);
  });
});
