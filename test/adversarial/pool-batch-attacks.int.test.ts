import { type BatchEntry, CLEAR_BATCH_CAPABILITY, type Envelope, newId } from "@fame/protocol";
import { Agent, connectFabric, type Fabric, nodeConfigFromEnv } from "@fame/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { quietLogger } from "../support/fabric-clients.js";
import { Arena } from "./support/arena.js";
import type { Attacker } from "./support/attacker.js";
import type { LegitTraffic } from "./support/legit-traffic.js";
import type { LoneSentinel } from "./support/lone-sentinel.js";

/**
 * Clear batches of calls to a pool (one envelope, many calls, placed on one replica) from
 * admitted hostile nodes, against a real sentinel process and a real replica (open profile):
 * every call of a batch counts against the sender's in-flight cap, a malformed batch is refused
 * whole before any replica sees it, and a replica that never announced clear batches (a
 * hand-written node) is never handed one. A legitimate client calls throughout.
 */
const LIMITS = { FAME_MAX_INFLIGHT: "64" };
const MATH = "math@fame.fabric";
const LEGACY = "legacy@fame.fabric";

let arena: Arena;
let sentinel: LoneSentinel;
let legit: LegitTraffic;
const fabrics: Fabric[] = [];

beforeAll(async () => {
  arena = await Arena.open(LIMITS);
  ({ sentinel, legit } = arena);
}, 120_000);

afterAll(async () => {
  for (const f of fabrics) await f.close();
  await arena?.close();
});

/** an admitted node announcing clear batches (unless `frame` says otherwise) */
const hostile = (
  localAddress: string,
  systemId: string,
  frame: { logicals?: string[]; capabilities?: string[] } = { capabilities: [CLEAR_BATCH_CAPABILITY] },
): Promise<Attacker> => arena.hostile(localAddress, { systemId, ...frame });

/** `n` add calls to the pool as one clear batch; `payloads` overrides the payload list */
async function sendBatch(
  a: Attacker,
  n: number,
  payloads?: unknown[],
): Promise<{ env: Envelope; ids: string[] }> {
  const ids = Array.from({ length: n }, () => newId());
  // written as plain JSON: the codec would refuse to encode a malformed batch
  const env = a.envelope({
    to: MATH,
    replyTo: a.replyTo,
    frame: {
      type: "Data",
      codec: "json",
      payload: (payloads ??
        ids.map((id, x) => ({ jsonrpc: "2.0", id, method: "add", params: { x, y: 1 } }))) as never,
      batch: ids.map((corrId): BatchEntry => ({ corrId })),
    },
  });
  await a.sendText(JSON.stringify(env));
  return { env, ids };
}

/** the result for each id, from lone answers and answer batches alike */
async function answers(a: Attacker, ids: string[]): Promise<Map<string, unknown>> {
  const want = new Set(ids);
  const got = new Map<string, unknown>();
  const collect = () => {
    for (const e of a.received) {
      if (e.frame.type !== "Data" || e.frame.codec !== "json") continue;
      const list = e.frame.batch;
      const payloads = (list === undefined ? [e.frame.payload] : e.frame.payload) as { result?: unknown }[];
      const corrIds = list === undefined ? [e.corrId] : list.map((b) => b.corrId);
      corrIds.forEach((id, i) => {
        if (id !== undefined && want.has(id)) got.set(id, payloads[i]?.result);
      });
    }
    return got.size === want.size;
  };
  await expect.poll(collect, { timeout: 10_000 }).toBe(true);
  return got;
}

const nacksFor = (a: Attacker, env: Envelope) =>
  a.received.filter(
    (e) => e.frame.type === "DeliveryAck" && e.frame.refId === env.id && e.frame.ok === false,
  );

describe("clear batches to a pool from hostile nodes", () => {
  it("offers pool batches only to a node that announced clear batches", async () => {
    const yes = await arena.connect("127.0.0.40");
    const no = await arena.connect("127.0.0.41");
    expect(
      (await yes.attach({ systemId: "pb_yes", capabilities: [CLEAR_BATCH_CAPABILITY] })).poolBatches,
    ).toBe(true);
    expect((await no.attach({ systemId: "pb_no" })).poolBatches).toBeUndefined();
  });

  it("serves each call of a batch on one replica, and answers every one", async () => {
    await legit.during(async () => {
      const a = await hostile("127.0.0.42", "pb_client");
      const { ids } = await sendBatch(a, 16);
      const got = await answers(a, ids);
      expect(ids.map((id) => got.get(id))).toEqual(ids.map((_, x) => x + 1));
    });
  });

  it("counts every call of a batch against the in-flight cap: one over it is refused whole, unserved", async () => {
    await legit.during(async () => {
      const a = await hostile("127.0.0.43", "pb_flood");
      const { env, ids } = await sendBatch(a, 65);
      await expect.poll(() => nacksFor(a, env).length).toBe(65);
      const refused = nacksFor(a, env);
      expect(new Set(refused.map((e) => e.corrId))).toEqual(new Set(ids));
      expect(refused.every((e) => (e.frame as { code?: string }).code === "too_many_inflight")).toBe(true);
      // a full batch within the cap still goes
      const ok = await sendBatch(a, 64);
      expect((await answers(a, ok.ids)).size).toBe(64);
      expect(a.received.some((e) => e.frame.type === "Data" && ids.includes(e.corrId ?? ""))).toBe(false);
    });
  });

  it("refuses a batch whose payloads do not match its list, before any replica sees it", async () => {
    await legit.during(async () => {
      const a = await hostile("127.0.0.44", "pb_shape");
      const from = a.received.length;
      // three calls named, one payload: refused as undecodable (it cannot be named), whole
      await sendBatch(a, 3, [{ jsonrpc: "2.0", id: "x", method: "add", params: { x: 1, y: 1 } }]);
      expect(await a.undecodableNacksSince(from)).toEqual({ bad_envelope: 1 });
      expect(a.received.some((e) => e.frame.type === "Data")).toBe(false);
    });
  });

  it("never hands a batch to a replica that did not announce clear batches; the SDK caller resends one by one", async () => {
    await legit.during(async () => {
      // a hand-written replica of legacy@: it answers lone calls and announces nothing
      const legacy = await hostile("127.0.0.45", "pb_legacy", { logicals: ["*.fame.fabric"] });
      await legacy.send({ frame: { type: "AddressBind", address: LEGACY } });
      await legacy.waitFor((e) => e.frame.type === "AddressBindAck");
      const served = new Set<string>();
      let stop = false;
      const serving = (async () => {
        for (let round = 0; round < 200 && !stop; round++) {
          const call = await legacy
            .waitFor((e) => e.frame.type === "Data" && e.to === LEGACY && !served.has(e.id), 500)
            .catch(() => undefined);
          if (call === undefined) continue;
          served.add(call.id);
          const req = (call.frame as unknown as { payload: { id: string; params: { x: number; y: number } } })
            .payload;
          await legacy.send({
            to: call.replyTo!,
            corrId: call.corrId!,
            frame: {
              type: "Data",
              codec: "json",
              payload: { jsonrpc: "2.0", id: req.id, result: req.params.x + req.params.y },
            },
          });
        }
      })();
      const refusedBefore = (await sentinel.status()).counters["refused"] ?? 0;
      const client = await connectFabric({
        config: nodeConfigFromEnv(sentinel.nodeEnv),
        logger: quietLogger(),
        installDefault: false,
      });
      fabrics.push(client);
      const remote = Agent.remoteByAddress<{ add(p: { x: number; y: number }): Promise<number> }>(LEGACY, {
        endpoint: client.endpoint,
      });
      const sums = await Promise.all(Array.from({ length: 8 }, (_, x) => remote.add({ x, y: 1 })));
      stop = true;
      await serving;
      expect(sums).toEqual(Array.from({ length: 8 }, (_, x) => x + 1));
      // the client did batch: one refusal (of its first batch of eight calls, not executed)
      expect((await sentinel.status()).counters["refused"]).toBe(refusedBefore + 1);
      // the refused batch never reached the replica: it saw only lone calls
      const toLegacy = legacy.received.filter((e) => e.frame.type === "Data" && e.to === LEGACY);
      expect(toLegacy).toHaveLength(8);
      expect(toLegacy.every((e) => e.frame.type === "Data" && e.frame.batch === undefined)).toBe(true);
    });
  });
});
