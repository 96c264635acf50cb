import { type Envelope, encodeEnvelope, makeEnvelope, newId } from "@fame/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Arena } from "./support/arena.js";
import type { Attacker } from "./support/attacker.js";
import type { LegitTraffic } from "./support/legit-traffic.js";
import type { LoneSentinel } from "./support/lone-sentinel.js";

/**
 * Link batches from an admitted hostile node, against a real sentinel process (open profile):
 * every entry is checked, authenticated, rate-limited and capped as if it came alone, a
 * malformed batch is refused whole, and a legitimate client (itself batching) calls throughout.
 */
const LIMITS = { FAME_MAX_FRAMES_PER_SEC: "400", FAME_FRAME_BURST: "200", FAME_MAX_INFLIGHT: "64" };

let arena: Arena;
let sentinel: LoneSentinel;
let legit: LegitTraffic;

beforeAll(async () => {
  arena = await Arena.open(LIMITS);
  ({ sentinel, legit } = arena);
}, 120_000);

afterAll(() => arena?.close());

const hostile = (localAddress: string, systemId: string): Promise<Attacker> =>
  arena.hostile(localAddress, { systemId });

/** an add call from `a` (under `sid`, by default its own) */
function call(a: Attacker, x: number, sid = a.sid): Envelope {
  const id = newId();
  return makeEnvelope({
    sid,
    to: "math@fame.fabric",
    replyTo: a.replyTo,
    corrId: id,
    frame: {
      type: "Data",
      codec: "json",
      payload: { jsonrpc: "2.0", id, method: "add", params: { x, y: 1 } },
    },
  });
}

const batch = (envs: (Envelope | string)[]) =>
  `[${envs.map((e) => (typeof e === "string" ? e : encodeEnvelope(e))).join(",")}]`;

const answerTo = (a: Attacker, env: Envelope) =>
  a.waitFor((e) => e.corrId === env.corrId && e.frame.type === "Data");

const badFrames = async () => (await sentinel.status()).counters["badFrames"] ?? 0;

describe("link batches from a hostile node", () => {
  it("the sentinel offers batches at attach", async () => {
    const a = await arena.connect("127.0.0.30");
    const ack = await a.attach({ systemId: "offer" });
    expect(ack.linkBatch).toBe(64);
  });

  it("refuses a forged-sid entry and a malformed entry by name, serves the good ones", async () => {
    await legit.during(async () => {
      const h = await hostile("127.0.0.31", "mixed");
      const victim = await hostile("127.0.0.32", "victim");
      const good1 = call(h, 1);
      const good2 = call(h, 2);
      const forged = call(h, 3, victim.sid);
      const bad = call(h, 4);
      const badText = encodeEnvelope(bad).replace(/"ts":\d+/, '"ts":"soon"');
      await h.sendText(batch([good1, forged, badText, good2]));
      expect((await answerTo(h, good1)).frame).toMatchObject({ type: "Data" });
      expect((await answerTo(h, good2)).frame).toMatchObject({ type: "Data" });
      expect((await h.nackFor(forged.id)).frame).toMatchObject({ code: "not_authorized" });
      const malformed = await h.waitFor(
        (e) => e.frame.type === "DeliveryAck" && e.frame.ok === false && e.frame.code === "bad_envelope",
      );
      expect(malformed.frame).toMatchObject({ refId: "unknown" });
      // the victim heard nothing of the forged entry
      expect(victim.received.filter((e) => e.frame.type !== "NodeAttachAck")).toEqual([]);
    });
    expect((await legit.stop()).failures).toEqual([]);
  });

  it("refuses nested, over-long and malformed batches as a whole", async () => {
    await legit.during(async () => {
      const h = await hostile("127.0.0.33", "malformed");
      const before = await badFrames();
      const nested = call(h, 5);
      const cases = [
        `[${batch([nested])}]`,
        batch([call(h, 6), batch([call(h, 7)])]),
        batch(Array.from({ length: 65 }, (_, i) => call(h, 100 + i))),
        `${batch([call(h, 8)]).slice(0, -1)},{"v":1,}]`,
        "[]",
        `[${"{".repeat(200)}`,
      ];
      for (const text of cases) await h.sendText(text);
      const nacks = () =>
        h.received.filter((e) => e.frame.type === "DeliveryAck" && e.frame.code === "bad_envelope");
      await h.waitFor(() => nacks().length === cases.length);
      expect(await badFrames()).toBe(before + cases.length);
      // nothing of a refused batch was routed: no answers came back
      expect(h.received.filter((e) => e.frame.type === "Data")).toEqual([]);
      expect(h.isOpen).toBe(true);
    });
    expect((await legit.stop()).failures).toEqual([]);
  });

  it("counts a flood per envelope: few messages, many envelopes, held to the frame rate", async () => {
    await legit.during(async () => {
      const h = await hostile("127.0.0.34", "flooder");
      const before = (await sentinel.status()).counters["rateLimited"] ?? 0;
      const rateRefused = async () => ((await sentinel.status()).counters["rateLimited"] ?? 0) - before;
      const started = performance.now();
      // 40 messages of 60 entries: 2400 envelopes against a burst of 200 at 400/s
      for (let m = 0; m < 40; m++) await h.sendText(batch(Array.from({ length: 60 }, (_, i) => call(h, i))));
      const nack = await h.waitFor((e) => e.frame.type === "DeliveryAck" && e.frame.code === "rate_limited");
      expect(nack.frame).toMatchObject({ ok: false });
      // far more refusals than the 40 messages: entries take a token each (a message refused
      // at the door, before it is parsed, is dropped whole and counted once). How many more
      // depends on the sentinel's speed, since the bucket refills while it routes what passed:
      // ~2,000 on a quiet box, 341 once under a loaded CI run; per-message counting caps at 40.
      await expect.poll(rateRefused, { timeout: 15_000 }).toBeGreaterThanOrEqual(3 * 40);
      // what got past the rate stage (answered, or refused later by name) stays within the bucket
      const passed = h.received.filter(
        (e) => e.frame.type === "Data" || (e.frame.type === "DeliveryAck" && e.frame.refId !== "unknown"),
      ).length;
      const elapsedSec = (performance.now() - started) / 1000;
      console.log(
        `batch flood: 2400 envelopes in 40 messages, ${await rateRefused()} refused rate_limited, ` +
          `${passed} served or refused by name in ${elapsedSec.toFixed(1)} s`,
      );
      expect(passed).toBeLessThanOrEqual(200 + 400 * elapsedSec + 60);
      expect(h.isOpen).toBe(true);
    });
    expect((await legit.stop()).failures).toEqual([]);
  });

  it("answers each entry of a full batch on its own", async () => {
    const h = await hostile("127.0.0.35", "capped");
    const calls = Array.from({ length: 64 }, (_, i) => call(h, i));
    await h.sendText(batch(calls));
    const answered = await Promise.all(calls.map((c) => h.waitFor((e) => e.corrId === c.corrId)));
    // every entry got its own answer: a result, or a refusal naming it
    for (const e of answered)
      expect(e.frame.type === "Data" || (e.frame.type === "DeliveryAck" && e.frame.ok === false)).toBe(true);
  });
});
