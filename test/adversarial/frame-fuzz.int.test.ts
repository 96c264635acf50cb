import { requestRaw } from "@fame/http-service/client";
import {
  checkLinkBatchEntry,
  decodeEnvelope,
  ERROR_CODES,
  type ErrorCode,
  isLinkBatch,
  isProtocolError,
  splitLinkBatch,
} from "@fame/protocol";
import { stopAll } from "@fame/testkit";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Attacker } from "./support/attacker.js";
import { frameArbitrary, templates } from "./support/fuzz-cases.js";
import { LegitTraffic } from "./support/legit-traffic.js";
import { type LoneSentinel, startLoneSentinel } from "./support/lone-sentinel.js";
import { MiB } from "./support/process-memory.js";

/**
 * The frame decoder and dispatcher, fuzzed through a real sentinel connection:
 * random and mutated envelopes, malformed JSON, deep nesting, huge strings,
 * oversize and non-text frames. The sentinel must never crash, every refusal
 * must be typed (a DeliveryAck / NodeAttachAck with a known ErrorCode, or a
 * 1008/1009 close), and a legitimate client must notice nothing.
 */
const MAX_FRAME = 1024 * 1024;
/** after attach: batches × frames per batch (plus the pre-attach cases below) */
const BATCHES = 200;
const PER_BATCH = 50;
const PRE_ATTACH_CASES = 300;

let sentinel: LoneSentinel;
let legit: LegitTraffic;
let rssAtStart = 0;
let systemIds = 0;

const connect = () => Attacker.connect({ url: sentinel.attachUrl, ca: sentinel.trustBundle });

/** what the sentinel should answer for these bytes, as the local decoder sees them */
function localVerdict(bytes: Buffer): ErrorCode | "valid" {
  try {
    decodeEnvelope(bytes, { maxFrameBytes: MAX_FRAME });
    return "valid";
  } catch (err) {
    return isProtocolError(err) ? err.code : "bad_envelope";
  }
}

/** the refusals the sentinel should send for these bytes: one for a bad frame or a malformed link batch, one per bad entry of a good batch */
function localRefusals(bytes: Buffer): ErrorCode[] {
  if (!isLinkBatch(bytes)) {
    const verdict = localVerdict(bytes);
    return verdict === "valid" ? [] : [verdict];
  }
  let values: unknown[];
  try {
    values = splitLinkBatch(bytes, { maxFrameBytes: MAX_FRAME }).values;
  } catch (err) {
    return [isProtocolError(err) ? err.code : "bad_envelope"];
  }
  const out: ErrorCode[] = [];
  for (const v of values) {
    try {
      checkLinkBatchEntry(v, { maxFrameBytes: MAX_FRAME });
    } catch (err) {
      out.push(isProtocolError(err) ? err.code : "bad_envelope");
    }
  }
  return out;
}

function expectKnownCodes(a: Attacker): void {
  for (const e of a.received) {
    if ((e.frame.type === "DeliveryAck" || e.frame.type === "NodeAttachAck") && e.frame.ok === false) {
      expect(ERROR_CODES).toContain(e.frame.code);
    }
  }
  expect(a.undecodable).toBe(0);
}

async function attached(): Promise<Attacker> {
  const a = await connect();
  expect((await a.attach({ systemId: `fuzzer${systemIds++}` })).ok).toBe(true);
  return a;
}

beforeAll(async () => {
  sentinel = await startLoneSentinel({
    env: {
      FAME_ATTACH_RATE_PER_MIN: "100000",
      FAME_MAX_PENDING_ATTACH_PER_IP: "1000",
      FAME_MAX_HANDSHAKES_PER_IP: "1000",
    },
  });
  await sentinel.startReplica("r1");
  legit = await LegitTraffic.connect(sentinel.nodeEnv);
  for (let i = 0; i < 20; i++) await legit.callOnce();
  await legit.stop();
  rssAtStart = sentinel.rss();
  legit.start(50);
}, 120_000);

afterAll(async () => {
  if (legit) {
    const report = await legit.stop();
    console.log(`legitimate client during the fuzzing: ${report.ok}/${report.calls} calls succeeded`);
    expect(report.failures).toEqual([]);
    expect(report.calls).toBeGreaterThan(0);
    await legit.close();
  }
  if (sentinel) {
    expect(sentinel.proc.child.exitCode).toBeNull();
    const health = await requestRaw(`${sentinel.url}/health`, { ca: sentinel.trustBundle });
    expect(health.status).toBe(200);
    const rss = sentinel.rss();
    console.log(`sentinel RSS: ${(rssAtStart / MiB).toFixed(1)} MiB → ${(rss / MiB).toFixed(1)} MiB`);
    expect(rss - rssAtStart).toBeLessThan(200 * MiB);
    await sentinel.stop();
  }
  await stopAll();
});

describe("fuzzing an attached connection", () => {
  it(`answers ${BATCHES * PER_BATCH} random and mutated envelopes with typed refusals and stays up`, async () => {
    const a = await attached();
    const frames = frameArbitrary(templates(a.sid, a.path));
    let invalid = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(frames, { minLength: PER_BATCH, maxLength: PER_BATCH }), async (texts) => {
        const from = a.received.length;
        const expected = new Map<string, number>();
        for (const text of texts) {
          const bytes = Buffer.from(text, "utf8");
          for (const code of localRefusals(bytes)) {
            invalid++;
            expected.set(code, (expected.get(code) ?? 0) + 1);
          }
          await a.sendText(bytes);
        }
        const got = await a.undecodableNacksSince(from);
        // undecodable frames: exactly one typed nack each, with the decoder's own code
        expect(got).toEqual(Object.fromEntries(expected));
        expect(a.isOpen).toBe(true);
      }),
      { numRuns: BATCHES, endOnFailure: true },
    );
    expectKnownCodes(a);
    console.log(
      `attached fuzzing: ${BATCHES * PER_BATCH} frames, ${invalid} undecodable, ${a.received.length} answers`,
    );
    expect(invalid).toBeGreaterThan(BATCHES * PER_BATCH * 0.3);
    await a.close();
  }, 180_000);
});

describe("fuzzing link batches", () => {
  it(`answers ${BATCHES} link batches of random and mutated envelopes entry by entry and stays up`, async () => {
    const a = await attached();
    const frames = frameArbitrary(templates(a.sid, a.path));
    let refusals = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(frames, { minLength: 2, maxLength: 20 }), async (texts) => {
        const from = a.received.length;
        const bytes = Buffer.from(`[${texts.join(",")}]`, "utf8");
        const expected = new Map<string, number>();
        for (const code of localRefusals(bytes)) {
          refusals++;
          expected.set(code, (expected.get(code) ?? 0) + 1);
        }
        await a.sendText(bytes);
        const got = await a.undecodableNacksSince(from);
        expect(got).toEqual(Object.fromEntries(expected));
        expect(a.isOpen).toBe(true);
      }),
      { numRuns: BATCHES, endOnFailure: true },
    );
    expectKnownCodes(a);
    console.log(`link batch fuzzing: ${BATCHES} batches, ${refusals} refusals`);
    expect(refusals).toBeGreaterThan(0);
    await a.close();
  }, 180_000);
});

describe("fuzzing the first frame", () => {
  it(`refuses ${PRE_ATTACH_CASES} random and mutated first frames with a typed NodeAttachAck and a 1008 close`, async () => {
    const frames = frameArbitrary(templates("pending", "/sentinel0/x", { attach: true }));
    const outcome = { refused: 0, attached: 0 };
    await fc.assert(
      fc.asyncProperty(frames, async (text) => {
        const bytes = Buffer.from(text, "utf8");
        const verdict = localVerdict(bytes);
        const a = await connect();
        await a.sendText(bytes);
        const ack = await a.waitFor((e) => e.frame.type === "NodeAttachAck");
        if (ack.frame.type !== "NodeAttachAck") throw new Error("unreachable");
        if (ack.frame.ok) {
          // a mutation that is still a valid NodeAttach: open admission lets it in
          expect(verdict).toBe("valid");
          outcome.attached++;
          await a.close();
          return;
        }
        outcome.refused++;
        expect(ERROR_CODES).toContain(ack.frame.code);
        if (verdict !== "valid") expect(ack.frame.code).toBe(verdict);
        expect((await a.closed).code).toBe(1008);
        expectKnownCodes(a);
      }),
      { numRuns: PRE_ATTACH_CASES, endOnFailure: true },
    );
    console.log(`first-frame fuzzing: ${outcome.refused} refused, ${outcome.attached} attached`);
    expect(outcome.refused).toBeGreaterThan(PRE_ATTACH_CASES / 2);
  }, 120_000);
});

describe("hostile frames", () => {
  it("refuses malformed JSON, 100k-deep nesting and huge strings with typed nacks, connection kept", async () => {
    const a = await attached();
    const cases: [string, ErrorCode][] = [
      ['{"v":1,', "bad_envelope"],
      ["[".repeat(100_000), "bad_envelope"],
      ['{"a":'.repeat(50_000), "bad_envelope"],
      [
        JSON.stringify({
          v: 1,
          id: "x",
          sid: a.sid,
          ts: 1,
          frame: { type: "Heartbeat" },
          meta: { big: "x".repeat(200_000) },
        }),
        "bad_envelope",
      ],
      [
        JSON.stringify({ v: 1, id: "y".repeat(500_000), sid: a.sid, ts: 1, frame: { type: "Heartbeat" } }),
        "bad_envelope",
      ],
      ["x".repeat(MAX_FRAME + 1000), "frame_too_large"],
      [`{"v":1,"pad":"${"z".repeat(MAX_FRAME * 1.5)}"}`, "frame_too_large"],
      ['{"v":1,"id":"a","sid":"b","ts":1e400,"frame":{"type":"Heartbeat"}}', "bad_envelope"],
      ['{"v":1,"id":"a","sid":"b","ts":1,"frame":{"type":"Teleport"}}', "unknown_frame"],
      ['{"__proto__":{"admin":true},"v":1}', "bad_envelope"],
    ];
    for (const [text, code] of cases) {
      const from = a.received.length;
      await a.sendText(text);
      const nack = await a.waitFor(
        (e) => a.received.indexOf(e) >= from && e.frame.type === "DeliveryAck" && e.frame.refId === "unknown",
      );
      expect(nack.frame).toMatchObject({ ok: false, code });
    }
    // a huge but legal payload is routed like any other (and refused for its destination only)
    const big = await a.send({
      to: "ghost@fame.fabric",
      corrId: "big",
      frame: { type: "Data", codec: "json", payload: { blob: "b".repeat(900_000) } },
    });
    expect((await a.nackFor(big.id)).frame).toMatchObject({ code: "no_route" });
    expect(a.isOpen).toBe(true);
    expectKnownCodes(a);
    await a.close();
  });

  it("closes on frames ws itself refuses: 1009 above twice the frame limit, 1008 binary, 1007 bad UTF-8", async () => {
    const huge = await attached();
    await huge.sendText("h".repeat(MAX_FRAME * 2 + 10)).catch(() => undefined);
    expect((await huge.closed).code).toBe(1009);

    const binary = await attached();
    await binary.sendBinary(Buffer.from('{"v":1}'));
    expect((await binary.closed).code).toBe(1008);

    const badUtf8 = await attached();
    await badUtf8.sendText(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
    expect((await badUtf8.closed).code).toBe(1007);
  });

  it("refuses hostile first frames with NodeAttachAck{ok:false} and 1008, or closes 1009 when huge", async () => {
    const firsts: [string, ErrorCode][] = [
      ["[".repeat(100_000), "bad_envelope"],
      ["x".repeat(MAX_FRAME + 1), "frame_too_large"],
      [
        JSON.stringify({
          v: 1,
          id: "a",
          sid: "pending",
          ts: 1,
          frame: {
            type: "NodeAttach",
            systemId: "many",
            instanceId: "i",
            logicals: Array.from({ length: 10_000 }, (_, i) => `l${i}.fame.fabric`),
            keys: [],
          },
        }),
        "bad_envelope",
      ],
    ];
    for (const [text, code] of firsts) {
      const a = await connect();
      await a.sendText(text);
      const ack = await a.waitFor((e) => e.frame.type === "NodeAttachAck");
      expect(ack.frame).toMatchObject({ ok: false, code });
      expect((await a.closed).code).toBe(1008);
    }
    const huge = await connect();
    await huge.sendText("[".repeat(MAX_FRAME * 2 + 1)).catch(() => undefined);
    expect((await huge.closed).code).toBe(1009);
    expect((await sentinel.status()).attaching).toBe(0);
  });
});
