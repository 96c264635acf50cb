import { defaultBackend } from "@fame/crypto";
import { base64urlEncode, type Envelope, newId, sidFromPath } from "@fame/protocol";
import { type FabricStack, pidAlive, type RunningProcess, startFabricStack, stopAll } from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pathOf } from "../integration/affinity-helpers.js";
import { attachAdmitted } from "./support/admitted.js";
import type { Attacker } from "./support/attacker.js";
import { admitRaw } from "./support/identities.js";
import { LegitTraffic } from "./support/legit-traffic.js";

/**
 * One credential, many processes. A replica used to count a caller's call slots and channels
 * per process (its verified sid): a credential holder who starts more processes got more of
 * both, until a client of another credential found none left. The CA now names the OAuth2
 * client a node was admitted with in its certificate (the FAME principal extension), and
 * a replica counts all the processes of one principal together (FAME_RPC_PRINCIPAL_SHARE_PCT,
 * FAME_MAX_CHANNELS_PER_PRINCIPAL, 75 % by default).
 *
 * Three nodes admitted with the agent credential (fame-dev-agent), as three processes of one
 * holder would be, each within its own per-process share, try to take every slot and every
 * channel of both replicas. A client of the other credential (fame-dev-client) calls
 * math@fame.fabric throughout, and a new client of that credential opens its channel after
 * the flood: every call of theirs must succeed.
 */
const MATH = "math@fame.fabric";
const REPLICAS = 2;
/** the SDK's DEFAULT_MAX_INFLIGHT, FAME_RPC_CALLER_SHARE_PCT (50) and FAME_RPC_PRINCIPAL_SHARE_PCT (75) */
const AGENT_SLOTS = 256;
const PROCESS_SLOTS = AGENT_SLOTS / 2;
const PRINCIPAL_SLOTS = (AGENT_SLOTS * 3) / 4;
/** the replicas' channel table, small so the flood fills it: 12 in all, 4 per process, 9 per principal */
const TABLE = 12;
const PEER_CHANNELS = 4;
const PRINCIPAL_CHANNELS = (TABLE * 3) / 4;
const HOGS = 3;
const backend = defaultBackend();
const ephPub = () => base64urlEncode(backend.x25519Keygen().publicKey);

let stack: FabricStack;
let legit: LegitTraffic;
const replicas: RunningProcess[] = [];
const attackers: Attacker[] = [];
const others: LegitTraffic[] = [];

/** a node admitted with the agent credential (real OAuth2 → Welcome → CA), attached by hand */
async function holderProcess(): Promise<Attacker> {
  return attachAdmitted(
    { url: stack.urls.attach, ca: stack.trustBundle },
    await admitRaw(stack.nodeEnv),
    attackers,
  );
}

const payloadOf = (e: Envelope): Record<string, unknown> =>
  e.frame.type === "Data" && e.frame.codec === "json"
    ? ((e.frame.payload ?? {}) as Record<string, unknown>)
    : {};

const errorOf = (e: Envelope) =>
  payloadOf(e)["error"] as { message?: string; data?: { fame_code?: unknown } } | undefined;

/** a replica's own address (math@<its path>) by its sid, for cancels that must reach it */
const physicalBySid = () => new Map(replicas.map((r) => [sidFromPath(pathOf(r)), `math@${pathOf(r)}`]));

beforeAll(async () => {
  stack = await startFabricStack({
    securityProfile: "strict-overlay",
    encryption: "channel",
    agentEnv: {
      FAME_MAX_ACCEPTED_CHANNELS: String(TABLE),
      FAME_MAX_CHANNELS_PER_PEER: String(PEER_CHANNELS),
    },
  });
  for (let i = 1; i <= REPLICAS; i++) replicas.push(await stack.startReplica(`replica${i}`));
  legit = await LegitTraffic.connect(stack.clientEnv);
  for (let i = 0; i < 5; i++) await legit.callOnce();
  expect((await legit.stop()).failures).toEqual([]);
}, 180_000);

afterAll(async () => {
  for (const a of attackers) await a.close();
  for (const o of others) await o.close();
  await legit?.close();
  const pids = stack?.allPids() ?? [];
  await stack?.stop();
  await stopAll();
  for (const pid of pids) expect(pidAlive(pid)).toBe(false);
}, 60_000);

describe("one credential's processes share one share at each replica", () => {
  it("names the caller's principal in the certificate: the replica sees who called", () => {
    // the math agent's "served" line names the principal its caller's certificate states
    const served = replicas
      .flatMap((r) => r.output().split("\n"))
      .filter((l) => l.includes('"msg":"served"'));
    expect(served.length).toBeGreaterThan(0);
    for (const line of served) expect(line).toContain('"principal":"fame-dev-client"');
  });

  it("call slots: three processes of one credential hold at most its share; another credential's client is served throughout", async () => {
    const hogs = await Promise.all(Array.from({ length: HOGS }, () => holderProcess()));
    // each process sends more unread streams than its own share of both replicas
    const perHog = REPLICAS * PROCESS_SLOTS + 8;
    const sent: { hog: Attacker; corrId: string }[] = [];
    let held: { hog: Attacker; env: Envelope }[] = [];
    await legit.during(async () => {
      for (const hog of hogs)
        for (let i = 0; i < perHog; i++) {
          const corrId = newId();
          sent.push({ hog, corrId });
          // window 1 and no credit ever: each admitted stream holds its slot until the credit timeout
          await hog.send({
            to: MATH,
            replyTo: hog.replyTo,
            corrId,
            frame: {
              type: "Data",
              codec: "json",
              payload: {
                jsonrpc: "2.0",
                id: corrId,
                method: "fib_stream",
                params: { n: 1000 },
                stream_window: 1,
              } as never,
            },
          });
        }
      const first = await Promise.all(
        sent.map(async ({ hog, corrId }) => ({
          hog,
          env: await hog.waitFor((e) => e.corrId === corrId && e.frame.type === "Data", 30_000),
        })),
      );
      held = first.filter(({ env }) => payloadOf(env)["stream"] === "item");
      const refused = first.filter(({ env }) => payloadOf(env)["stream"] !== "item");
      for (const { env } of refused) expect(errorOf(env)?.data?.fame_code).toBe("too_many_inflight");
      // the replicas counted the three processes as one principal: 3/4 of each one's slots, no more
      const perReplica = new Map<string, number>();
      for (const { env } of held) perReplica.set(env.sid, (perReplica.get(env.sid) ?? 0) + 1);
      expect([...perReplica.values()]).toEqual(Array.from({ length: REPLICAS }, () => PRINCIPAL_SLOTS));
      expect(refused.some(({ env }) => errorOf(env)?.message?.includes("per-principal limit"))).toBe(true);
      // no process got past its own share either
      for (const hog of hogs) {
        const mine = held.filter((h) => h.hog === hog);
        for (const sid of perReplica.keys())
          expect(mine.filter((h) => h.env.sid === sid).length).toBeLessThanOrEqual(PROCESS_SLOTS);
      }
      // while the credential holds its share everywhere, the other credential's client is served
      for (let i = 0; i < 20; i++) await legit.callOnce();
    });
    // the holder's own cancels end its streams at the replicas holding them
    const physical = physicalBySid();
    for (const { hog, env } of held)
      await hog.send({
        to: physical.get(env.sid)!,
        replyTo: hog.replyTo,
        corrId: env.corrId!,
        frame: {
          type: "Data",
          codec: "json",
          payload: { jsonrpc: "2.0", id: env.corrId, stream: "cancel" } as never,
        },
      });
    await legit.callOnce();
    expect((await legit.stop()).failures).toEqual([]);
  }, 120_000);

  it("channels: three processes of one credential hold at most its share of each replica's table; a newcomer of another credential still gets a channel", async () => {
    const hogs = await Promise.all(Array.from({ length: HOGS }, () => holderProcess()));
    const opensPerHog = 2 * REPLICAS * PEER_CHANNELS;
    await legit.during(async () => {
      const cids: { hog: Attacker; cid: string }[] = [];
      for (const hog of hogs)
        for (let i = 0; i < opensPerHog; i++) {
          const cid = newId();
          cids.push({ hog, cid });
          await hog.send({
            to: MATH,
            replyTo: hog.replyTo,
            corrId: cid,
            frame: { type: "SecureOpen", cid, ephPub: ephPub(), alg: "CHACHA20P1305" },
          });
        }
      const answers = await Promise.all(
        cids.map(({ hog, cid }) =>
          hog.waitFor(
            (e) => e.corrId === cid && (e.frame.type === "SecureAccept" || e.frame.type === "DeliveryAck"),
          ),
        ),
      );
      const accepted = answers.filter((e) => e.frame.type === "SecureAccept" && e.frame.ok);
      const refused = answers.filter((e) => !(e.frame.type === "SecureAccept" && e.frame.ok));
      for (const r of refused)
        expect(r.frame).toMatchObject({ type: "SecureAccept", ok: false, code: "too_many_channels" });
      const perReplica = new Map<string, number>();
      for (const a of accepted) perReplica.set(a.sid, (perReplica.get(a.sid) ?? 0) + 1);
      expect([...perReplica.values()]).toEqual(Array.from({ length: REPLICAS }, () => PRINCIPAL_CHANNELS));
      expect(
        refused.some(
          (r) => r.frame.type === "SecureAccept" && String(r.frame.reason).includes("per-principal limit"),
        ),
      ).toBe(true);
      // a client of the other credential that arrives now opens its channel and is served
      const newcomer = await LegitTraffic.connect(stack.clientEnv);
      others.push(newcomer);
      for (let i = 0; i < 5; i++) await newcomer.callOnce();
      expect((await newcomer.stop()).failures).toEqual([]);
      expect(newcomer.fabric.node.channels.metrics.opened).toBe(1);
    });
    expect((await legit.stop()).failures).toEqual([]);
  }, 120_000);
});
