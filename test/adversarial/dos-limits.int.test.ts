import { defaultBackend } from "@fame/crypto";
import { requestRaw } from "@fame/http-service/client";
import { base64urlEncode, ERROR_CODES, newId } from "@fame/protocol";
import { stopAll } from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Attacker, type ConnectOutcome } from "./support/attacker.js";
import { LegitTraffic } from "./support/legit-traffic.js";
import { type LoneSentinel, startLoneSentinel } from "./support/lone-sentinel.js";
import { MiB } from "./support/process-memory.js";

/**
 * Resource limits under abuse, against a real sentinel process (open profile:
 * identity is not the point here). Attackers connect from other loopback
 * addresses (127.0.0.2…) so the per-IP limits can be shown to hit them and not
 * the legitimate client on 127.0.0.1, which keeps calling throughout.
 */
const LIMITS = {
  FAME_ATTACH_RATE_PER_MIN: "30",
  FAME_MAX_PENDING_ATTACH: "64",
  FAME_MAX_PENDING_ATTACH_PER_IP: "8",
  // the attach gate is what these tests hold to; handshake-limits.int.test.ts tests the gate before it
  FAME_MAX_HANDSHAKES_PER_IP: "1000",
  FAME_ATTACH_TIMEOUT_MS: "1500",
  FAME_HEARTBEAT_MS: "1000",
  FAME_HEARTBEAT_MISS_LIMIT: "10",
  FAME_IDLE_TIMEOUT_MS: "3000",
  FAME_MAX_CHANNELS_PER_CLIENT: "8",
  FAME_MAX_INFLIGHT: "8",
};

let sentinel: LoneSentinel;
let legit: LegitTraffic;
let rssAtStart = 0;
const attackers: Attacker[] = [];
const ephPub = () => base64urlEncode(defaultBackend().x25519Keygen().publicKey);

const connectFrom = (localAddress: string) =>
  Attacker.tryConnect({ url: sentinel.attachUrl, ca: sentinel.trustBundle, localAddress });

async function attackerFrom(localAddress: string, systemId: string): Promise<Attacker> {
  const a = await Attacker.connect({ url: sentinel.attachUrl, ca: sentinel.trustBundle, localAddress });
  attackers.push(a);
  const ack = await a.attach({ systemId });
  expect(ack.ok).toBe(true);
  return a;
}

beforeAll(async () => {
  sentinel = await startLoneSentinel({ env: LIMITS });
  await sentinel.startReplica("r1");
  await sentinel.startReplica("r2");
  legit = await LegitTraffic.connect(sentinel.nodeEnv);
  for (let i = 0; i < 20; i++) await legit.callOnce();
  await legit.stop();
  rssAtStart = sentinel.rss();
}, 120_000);

afterAll(async () => {
  for (const a of attackers) await a.close();
  await legit?.close();
  if (sentinel) {
    // bounded memory after every attack in this file (generous: the point is "no leak per connection")
    const rss = sentinel.rss();
    console.log(
      `sentinel RSS: ${(rssAtStart / MiB).toFixed(1)} MiB at start, ${(rss / MiB).toFixed(1)} MiB at end`,
    );
    expect(rss - rssAtStart).toBeLessThan(150 * MiB);
    await sentinel.stop();
  }
  await stopAll();
});

describe("attach flood", () => {
  it("limits 300 simultaneous connections from one IP and stays healthy for everyone else", async () => {
    let outcomes: ConnectOutcome[] = [];
    await legit.during(async () => {
      outcomes = await Promise.all(Array.from({ length: 300 }, () => connectFrom("127.0.0.2")));
      const opened = outcomes.flatMap((o) => (o.ok ? [o.node] : []));
      attackers.push(...opened);
      // the ones that got in attach like any node would (open profile)
      await Promise.all(opened.map((a, i) => a.attach({ systemId: `flood${i}` }).catch(() => undefined)));
      const health = await requestRaw(`${sentinel.url}/health`, { ca: sentinel.trustBundle });
      expect(health.status).toBe(200);
    });
    const opened = outcomes.filter((o) => o.ok).length;
    const refused = outcomes.filter((o) => !o.ok && o.status === 429);
    const other = outcomes.filter((o) => !o.ok && o.status !== 429);
    console.log(
      `attach flood: ${opened} upgraded, ${refused.length} refused with 429, ${other.length} other`,
    );
    expect(opened).toBeGreaterThan(0);
    expect(opened).toBeLessThanOrEqual(30);
    expect(other).toEqual([]);
    expect(opened + refused.length).toBe(300);
    const first = refused[0];
    if (first && "body" in first) expect(JSON.parse(first.body)).toMatchObject({ error: "rate_limited" });
    const status = await sentinel.status();
    expect(status.attachGate.rateLimited).toBeGreaterThanOrEqual(refused.length);
    // another host is not affected at all
    const fresh = await LegitTraffic.connect(sentinel.nodeEnv);
    await fresh.callOnce();
    expect((await fresh.stop()).ok).toBe(1);
    await fresh.close();
    for (const a of attackers.splice(0)) await a.close();
  });

  it("holds a host that attaches and leaves in a loop to FAME_ATTACH_RATE_PER_MIN, then lets it back in", async () => {
    let admitted = 0;
    let refusedAfter = 0;
    await legit.during(async () => {
      // each connection attaches at once, so only the per-minute rate can stop this loop
      for (let i = 0; i < 100; i++) {
        const o = await connectFrom("127.0.0.6");
        if (!o.ok) {
          expect(o.status).toBe(429);
          if ("body" in o) expect(o.body).toContain("attach attempts per minute");
          break;
        }
        admitted++;
        expect((await o.node.attach({ systemId: `loop${i}` })).ok).toBe(true);
        await o.node.close();
      }
      for (let i = 0; i < 20; i++) {
        const o = await connectFrom("127.0.0.6");
        if (o.ok) await o.node.close();
        else refusedAfter++;
      }
    });
    console.log(`attach loop: ${admitted} admitted before the first 429`);
    // a burst of 30, plus what refilled (1 per 2 s) while the loop ran
    expect(admitted).toBeGreaterThanOrEqual(30);
    expect(admitted).toBeLessThan(40);
    expect(refusedAfter).toBeGreaterThanOrEqual(15);
    let back: Attacker | undefined;
    await expect
      .poll(
        async () => {
          const o = await connectFrom("127.0.0.6");
          if (o.ok) back = o.node;
          return o.ok;
        },
        { timeout: 10_000, interval: 500 },
      )
      .toBe(true);
    attackers.push(back!);
    expect((await back!.attach({ systemId: "after_flood" })).ok).toBe(true);
  });
});

describe("slow attachers", () => {
  it("caps connections that never attach per IP, and closes them at the attach timeout", async () => {
    let outcomes: ConnectOutcome[] = [];
    await legit.during(async () => {
      outcomes = await Promise.all(Array.from({ length: 20 }, () => connectFrom("127.0.0.3")));
      const slow = outcomes.flatMap((o) => (o.ok ? [o.node] : []));
      attackers.push(...slow);
      expect(slow.length).toBe(8);
      expect(outcomes.filter((o) => !o.ok && o.status === 429)).toHaveLength(12);
      // while they hold their slots, others attach normally
      const other = await LegitTraffic.connect(sentinel.nodeEnv);
      await other.callOnce();
      expect((await other.stop()).ok).toBe(1);
      await other.close();
      const closes = await Promise.all(slow.map((a) => a.closed));
      for (const c of closes) expect(c.code).toBe(4002);
      for (const a of slow)
        expect(a.received.find((e) => e.frame.type === "NodeAttachAck")?.frame).toMatchObject({
          ok: false,
          code: "attach_timeout",
        });
    });
    expect((await sentinel.status()).attaching).toBe(0);
  });
});

describe("idle connections", () => {
  it("closes an attached node that sends nothing, while quiet but heartbeating nodes stay", async () => {
    const quietButAlive = await LegitTraffic.connect(sentinel.nodeEnv);
    await legit.during(async () => {
      const idler = await attackerFrom("127.0.0.4", "idler");
      const started = Date.now();
      const closed = await idler.closed;
      expect(closed.code).toBe(4003);
      expect(Date.now() - started).toBeGreaterThanOrEqual(2500);
    });
    expect(quietButAlive.fabric.connection.state).toBe("attached");
    await quietButAlive.callOnce();
    expect((await quietButAlive.stop()).ok).toBe(1);
    await quietButAlive.close();
    expect((await sentinel.status()).counters["idleClosed"]).toBeGreaterThanOrEqual(1);
  });
});

describe("per-client quotas", () => {
  it("refuses channels beyond FAME_MAX_CHANNELS_PER_CLIENT with too_many_channels", async () => {
    await legit.during(async () => {
      const hoarder = await attackerFrom("127.0.0.5", "hoarder");
      const cids = Array.from({ length: 20 }, () => newId());
      for (const cid of cids) {
        await hoarder.send({
          to: "math@fame.fabric",
          replyTo: hoarder.replyTo,
          corrId: cid,
          frame: { type: "SecureOpen", cid, ephPub: ephPub(), alg: "CHACHA20P1305" },
        });
      }
      const answers = await Promise.all(
        cids.map((cid) =>
          hoarder.waitFor(
            (e) => e.corrId === cid && (e.frame.type === "SecureAccept" || e.frame.type === "DeliveryAck"),
          ),
        ),
      );
      const accepted = answers.filter((e) => e.frame.type === "SecureAccept" && e.frame.ok);
      const refused = answers.filter((e) => e.frame.type === "DeliveryAck");
      expect(accepted).toHaveLength(8);
      expect(refused).toHaveLength(12);
      for (const r of refused) expect(r.frame).toMatchObject({ ok: false, code: "too_many_channels" });
    });
  });

  it("refuses requests beyond FAME_MAX_INFLIGHT with too_many_inflight, and answers the admitted ones", async () => {
    await legit.during(async () => {
      const greedy = await attackerFrom("127.0.0.5", "greedy");
      const ids = Array.from({ length: 20 }, () => newId());
      for (const id of ids) {
        await greedy.send({
          to: "math@fame.fabric",
          replyTo: greedy.replyTo,
          corrId: id,
          frame: {
            type: "Data",
            codec: "json",
            payload: { jsonrpc: "2.0", id, method: "sleep", params: { ms: 1000 } },
          },
        });
      }
      const answers = await Promise.all(
        ids.map((id) =>
          greedy.waitFor(
            (e) => e.corrId === id && (e.frame.type === "Data" || e.frame.type === "DeliveryAck"),
          ),
        ),
      );
      const refused = answers.filter((e) => e.frame.type === "DeliveryAck");
      expect(refused).toHaveLength(12);
      for (const r of refused) expect(r.frame).toMatchObject({ ok: false, code: "too_many_inflight" });
      const results = answers.filter((e) => e.frame.type === "Data");
      expect(results).toHaveLength(8);
      for (const r of results) expect(r.frame).toMatchObject({ payload: { result: 1000 } });
    });
  });

  it("answers no_route for destinations nobody serves, and bad_envelope without one", async () => {
    await legit.during(async () => {
      const lost = await attackerFrom("127.0.0.5", "lost");
      const payload = { jsonrpc: "2.0", id: 1, method: "add", params: { x: 1, y: 2 } };
      for (const to of [
        "ghost@fame.fabric",
        "math@other.domain",
        "rpc@/sentinel0/nobody",
        "rpc@/elsewhere/x",
      ]) {
        const env = await lost.send({
          to,
          replyTo: lost.replyTo,
          frame: { type: "Data", codec: "json", payload },
        });
        expect((await lost.nackFor(env.id)).frame).toMatchObject({ code: "no_route" });
      }
      const noTo = await lost.send({ frame: { type: "Data", codec: "json", payload } });
      expect((await lost.nackFor(noTo.id)).frame).toMatchObject({ code: "bad_envelope" });
      for (const e of lost.received)
        if (e.frame.type === "DeliveryAck") expect(ERROR_CODES).toContain(e.frame.code);
    });
  });
});
