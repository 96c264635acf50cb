import { defaultBackend } from "@fame/crypto";
import { requestJson } from "@fame/http-service/client";
import { type Admission, AftSigner } from "@fame/identity";
import { base64urlEncode, type Envelope, newId } from "@fame/protocol";
import { Agent } from "@fame/sdk";
import { type FabricStack, pidAlive, type RunningProcess, startFabricStack, stopAll } from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { distributionOf, type MathApi, pathOf, sentinelYaml } from "../integration/affinity-helpers.js";
import { attachAdmitted } from "./support/admitted.js";
import type { Attacker } from "./support/attacker.js";
import { admitRaw } from "./support/identities.js";
import { LegitTraffic } from "./support/legit-traffic.js";

/**
 * Issue #14, items 1–4 and 8: an admitted node (real credentials, strict-overlay, channel
 * encryption, the wire spoken by hand) touching channels, pending opens, reply addresses and
 * sessions that belong to someone else. Each attack is refused with a named code by the
 * sentinel's authorize stage, the victim is untouched, and a legitimate client calls
 * math@fame.fabric throughout without a single failure.
 */
const MATH = "math@fame.fabric";
const EXCL = "excl@fame.fabric";
const SLOW = "slow@fame.fabric";
const QUOTA = 4;
const backend = defaultBackend();
const ephPub = () => base64urlEncode(backend.x25519Keygen().publicKey);

const yaml = sentinelYaml(
  [`    - address: "${EXCL}"`, "      affinity: session", "      exclusive: true", ""].join("\n"),
);

let stack: FabricStack;
let legit: LegitTraffic;
let replica1: RunningProcess;
const attackers: Attacker[] = [];
const admissions = new Map<Attacker, Admission>();

/** an admitted node (the fabric's agent credential) attached by hand and signing its envelopes */
async function insider(logicals: string[] = []): Promise<Attacker> {
  const adm = await admitRaw(stack.nodeEnv, logicals);
  const a = await attachAdmitted({ url: stack.urls.attach, ca: stack.trustBundle }, adm, attackers);
  admissions.set(a, adm);
  return a;
}

const nackCode = async (a: Attacker, env: Envelope) => {
  const nack = (await a.nackFor(env.id)).frame;
  return nack.type === "DeliveryAck" ? nack.code : undefined;
};

const callFrame = (method: string, params: unknown, id: string) => ({
  type: "Data" as const,
  codec: "json" as const,
  payload: { jsonrpc: "2.0", id, method, params } as never,
});

async function sentinelStatus(): Promise<Record<string, unknown>> {
  return (await requestJson(`${stack.urls.sentinel}/fame/v1/status`, {
    ca: stack.trustBundle,
    headers: stack.adminHeaders,
  })) as Record<string, unknown>;
}

/** the replica's answer to `corrId` (a result, or the replica's own refusal): it was routed */
async function answered(a: Attacker, corrId: string): Promise<void> {
  const env = await a.waitFor((e) => e.corrId === corrId);
  if (env.frame.type === "DeliveryAck" && !env.frame.ok) expect(env.sid).not.toBe("sentinel0");
}

beforeAll(async () => {
  stack = await startFabricStack({
    securityProfile: "strict-overlay",
    encryption: "channel",
    sentinelEnv: {
      FAME_CONFIG: yaml.file,
      FAME_MAX_CHANNELS_PER_CLIENT: String(QUOTA),
      FAME_MAX_EXCLUSIVE_SESSIONS_PER_CLIENT: "1",
    },
  });
  replica1 = await stack.startReplica("replica1");
  await stack.startReplica("replica2");
  await stack.startReplica("excl1", { FAME_AGENT_ADDRESS: EXCL });
  await stack.startReplica("excl2", { FAME_AGENT_ADDRESS: EXCL });
  legit = await LegitTraffic.connect(stack.nodeEnv);
  for (let i = 0; i < 10; i++) await legit.callOnce();
  expect((await legit.stop()).failures).toEqual([]);
}, 180_000);

afterAll(async () => {
  for (const a of attackers) await a.close();
  await legit?.close();
  const pids = stack?.allPids() ?? [];
  await stack?.stop();
  await stopAll();
  yaml.cleanup();
  for (const pid of pids) expect(pidAlive(pid)).toBe(false);
}, 60_000);

describe("channels (items 1, 2, 4)", () => {
  it("1: a stranger's SecureClose for the victim's channel is refused; the pin and channel stay", async () => {
    const mallory = await insider();
    await legit.during(async () => {
      const victim = await legit.fabric.node.channels.forAddress(MATH);
      const opened = legit.fabric.node.channels.metrics.opened;
      const pinsBefore = ((await sentinelStatus())["stickiness"] as { size: number }).size;
      // to the victim's own reply address, as if the pinned replica were closing it
      const close = await mallory.send({
        to: legit.fabric.node.replyAddress,
        frame: { type: "SecureClose", cid: victim.cid },
      });
      expect(await nackCode(mallory, close)).toBe("not_authorized");
      for (let i = 0; i < 5; i++) await legit.callOnce();
      // no re-open: the channel (and its replica) stayed the victim's
      expect(legit.fabric.node.channels.metrics.opened).toBe(opened);
      expect((await legit.fabric.node.channels.forAddress(MATH)).cid).toBe(victim.cid);
      expect(((await sentinelStatus())["stickiness"] as { size: number }).size).toBe(pinsBefore);
    });
  });

  it("2: a stranger's SecureAccept for a pending open is refused; the rightful accept still pins", async () => {
    const replica = await insider(["*.fame.fabric"]);
    const bind = await replica.send({ frame: { type: "AddressBind", address: SLOW } });
    expect(
      (await replica.waitFor((e) => e.frame.type === "AddressBindAck" && e.corrId === bind.id)).frame,
    ).toMatchObject({
      ok: true,
    });
    const victim = await insider();
    const mallory = await insider();
    await legit.during(async () => {
      const cid = newId();
      await victim.send({
        to: SLOW,
        replyTo: victim.replyTo,
        corrId: cid,
        frame: { type: "SecureOpen", cid, ephPub: ephPub(), alg: "CHACHA20P1305" },
      });
      // the open is now pending at the sentinel, and the replica holds it
      await replica.waitFor((e) => e.frame.type === "SecureOpen" && e.frame.cid === cid);
      const forged = await mallory.send({
        to: victim.replyTo,
        corrId: cid,
        frame: { type: "SecureAccept", cid, ok: true, ephPub: ephPub() },
      });
      expect(await nackCode(mallory, forged)).toBe("not_authorized");
      const aft = await new AftSigner(admissions.get(replica)!.seed).issue({
        sid: replica.sid,
        cid,
        clientSid: victim.sid,
      });
      await replica.send({
        to: victim.replyTo,
        corrId: cid,
        frame: { type: "SecureAccept", cid, ok: true, ephPub: ephPub(), aft },
      });
      const accepted = await victim.waitFor((e) => e.frame.type === "SecureAccept" && e.frame.cid === cid);
      expect(accepted.sid).toBe(replica.sid);
      expect(victim.received.filter((e) => e.frame.type === "SecureAccept")).toHaveLength(1);
    });
  });

  it("4: SecureOpens to a replica's physical address are refused: no quota bypass, the replica sees none", async () => {
    const mallory = await insider();
    await legit.during(async () => {
      const to = `math@${pathOf(replica1)}`;
      const opens: Envelope[] = [];
      for (let i = 0; i < QUOTA * 3; i++) {
        const cid = newId();
        opens.push(
          await mallory.send({
            to,
            replyTo: mallory.replyTo,
            corrId: cid,
            frame: { type: "SecureOpen", cid, ephPub: ephPub(), alg: "CHACHA20P1305" },
          }),
        );
      }
      for (const env of opens) expect(await nackCode(mallory, env)).toBe("not_authorized");
      expect(mallory.received.filter((e) => e.frame.type === "SecureAccept")).toEqual([]);
      expect((await sentinelStatus())["pendingOpens"]).toBe(0);
    });
  });
});

describe("reply addresses (item 3)", () => {
  it("3: a request with the victim's replyTo is refused and never reaches a replica", async () => {
    const victim = await insider();
    const mallory = await insider();
    await legit.during(async () => {
      const corrId = newId();
      // a stream cancel in the victim's name, and a call whose answer would land on the victim
      const cancel = await mallory.send({
        to: MATH,
        replyTo: victim.replyTo,
        corrId,
        frame: { type: "Data", codec: "json", payload: { stream: "cancel" } as never },
      });
      expect(await nackCode(mallory, cancel)).toBe("reply_to_not_owned");
      const call = await mallory.send({
        to: MATH,
        replyTo: victim.replyTo,
        corrId,
        frame: callFrame("add", { x: 1, y: 2 }, corrId),
      });
      expect(await nackCode(mallory, call)).toBe("reply_to_not_owned");
      // The same calls with mallory's own replyTo are answered (by both replicas, round robin):
      // had the refused ones gone on, their answers would have come to the victim before these.
      for (let i = 0; i < 2; i++) {
        const own = newId();
        await mallory.send({
          to: MATH,
          replyTo: mallory.replyTo,
          corrId: own,
          frame: callFrame("add", { x: i, y: 1 }, own),
        });
        await answered(mallory, own);
      }
      expect(victim.received.filter((e) => e.corrId === corrId)).toEqual([]);
    });
  });

  it("3: an answer to the victim's call from a node other than its replica is refused (not_authorized)", async () => {
    const victim = await insider();
    const mallory = await insider();
    await legit.during(async () => {
      const corrId = newId();
      // a stream with a window of one item and no credit: the call stays in flight
      const stream = callFrame("fib_stream", { n: 50 }, corrId);
      await victim.send({
        to: MATH,
        replyTo: victim.replyTo,
        corrId,
        frame: { ...stream, payload: { ...(stream.payload as object), stream_window: 1 } as never },
      });
      await victim.waitFor((e) => e.corrId === corrId);
      // replies are matched by corrId: mallory answers the victim's call in the replica's place
      const forged = await mallory.send({
        to: victim.replyTo,
        corrId,
        frame: {
          type: "Data",
          codec: "json",
          payload: { jsonrpc: "2.0", id: corrId, result: 666 } as never,
        },
      });
      expect(await nackCode(mallory, forged)).toBe("not_authorized");
      // without a corrId a node reads the envelope's id as the conversation: the same answer
      // under the call's id as its envelope id is refused just the same
      const byId = await mallory.send({
        id: corrId,
        to: victim.replyTo,
        frame: {
          type: "Data",
          codec: "json",
          payload: { jsonrpc: "2.0", id: corrId, result: 666 } as never,
        },
      });
      expect(await nackCode(mallory, byId)).toBe("not_authorized");
      // mallory may still talk to the victim about anything else (no call of the victim's)
      const other = newId();
      await mallory.send({
        to: victim.replyTo,
        corrId: other,
        frame: { type: "Data", codec: "json", payload: { jsonrpc: "2.0", id: other, result: 1 } as never },
      });
      await victim.waitFor((e) => e.corrId === other);
      expect(victim.received.filter((e) => e.corrId === corrId && e.sid === mallory.sid)).toEqual([]);
    });
  });
});

describe("sessions (item 8)", () => {
  it("8: one client holds at most its share of an exclusive pool, and nobody else may use, end or move its session", async () => {
    const mallory = await insider();
    // the victim holds another credential: a credential's processes share one share of the pool
    const victimFabric = await LegitTraffic.connect(stack.clientEnv);
    try {
      await legit.during(async () => {
        const sessionCall = async (sessionId: string, extra: Record<string, string> = {}) => {
          const id = newId();
          return mallory.send({
            to: EXCL,
            replyTo: mallory.replyTo,
            corrId: id,
            meta: { "session-id": sessionId, ...extra },
            frame: callFrame("whoami", {}, id),
          });
        };
        // the cap: mallory's first session takes a replica, its second would take the last one
        const first = await sessionCall(`m-${newId()}`);
        await answered(mallory, first.corrId!);
        const second = await sessionCall(`m-${newId()}`);
        expect(await nackCode(mallory, second)).toBe("too_many_client_sessions");
        // another process of mallory's credential (another instance) counts against the same
        // share: the credential holds one of the two replicas, however many processes it runs
        const again = await insider();
        const sid = `m-${newId()}`;
        const third = await again.send({
          to: EXCL,
          replyTo: again.replyTo,
          corrId: newId(),
          meta: { "session-id": sid },
          frame: callFrame("whoami", {}, newId()),
        });
        expect(await nackCode(again, third)).toBe("too_many_client_sessions");
        // so the victim still finds a free replica for its session
        const victimSession = `v-${newId()}`;
        const excl = Agent.remoteByAddress<MathApi>(EXCL, {
          endpoint: victimFabric.fabric.endpoint,
          sessionId: victimSession,
          retry: false,
        });
        const holder = (await excl.whoami()).replica;
        const before = await distributionOf(stack, EXCL);
        // ownership: mallory knows the victim's session id and tries to use it, then to end it
        const use = await sessionCall(victimSession);
        expect(await nackCode(mallory, use)).toBe("session_not_owned");
        const end = await sessionCall(victimSession, { "session-end": "true" });
        expect(await nackCode(mallory, end)).toBe("session_not_owned");
        const after = await distributionOf(stack, EXCL);
        expect(after.sessions).toBe(before.sessions);
        expect(after.counters.ended).toBe(before.counters.ended);
        expect((await excl.whoami()).replica).toBe(holder);
        const refused = (await sentinelStatus())["refusedByCode"] as Record<string, number>;
        expect(refused["session_not_owned"]).toBeGreaterThanOrEqual(2);
        expect(refused["too_many_client_sessions"]).toBeGreaterThanOrEqual(1);
      });
    } finally {
      await victimFabric.close();
    }
  });
});
