import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { defaultBackend } from "@fame/crypto";
import { base64urlEncode, type Envelope, encodeEnvelope, newId, sidFromPath } from "@fame/protocol";
import {
  type FabricStack,
  pidAlive,
  REPO_ROOT,
  type RunningProcess,
  startFabricStack,
  stopAll,
} from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pathOf } from "../integration/affinity-helpers.js";
import { attachAdmitted } from "./support/admitted.js";
import type { Attacker } from "./support/attacker.js";
import { admitRaw } from "./support/identities.js";
import { LegitTraffic } from "./support/legit-traffic.js";

/**
 * Issue #14, the replica's own defences (items 3, 4, 5, 7): what reaches a math-agent replica
 * through a real sentinel from an admitted node speaking the wire by hand (strict-overlay, dev
 * credentials, every envelope signed) is checked against its verified sender. Replayed or stale
 * signed requests are refused (`replay`, `stale_envelope`), a stranger's stream cancel or credit
 * touches nothing, one client gets only its share of call slots (`too_many_inflight`) and of
 * channels (`too_many_channels`). A legitimate client (channel encryption) calls
 * math@fame.fabric throughout without a single failure.
 */
const MATH = "math@fame.fabric";
/** FAME_MAX_CHANNELS_PER_PEER of the replicas: small, so a flood reaches it at once */
const PEER_CHANNELS = 3;
/** the SDK's defaults the tests lean on: DEFAULT_MAX_INFLIGHT and FAME_RPC_CALLER_SHARE_PCT */
const AGENT_SLOTS = 256;
const CALLER_SLOTS = AGENT_SLOTS / 2;
const REPLICAS = 2;
const backend = defaultBackend();
const ephPub = () => base64urlEncode(backend.x25519Keygen().publicKey);

let stack: FabricStack;
let legit: LegitTraffic;
const replicas: RunningProcess[] = [];
const attackers: Attacker[] = [];
/** every cid and corrId used in this file: none may appear in a log at the default level */
const capabilities = new Set<string>();

/** an admitted node (real OAuth2 → Welcome → CA admission) attached by hand, signing its envelopes */
async function insider(): Promise<Attacker> {
  return attachAdmitted(
    { url: stack.urls.attach, ca: stack.trustBundle },
    await admitRaw(stack.nodeEnv),
    attackers,
  );
}

const request = (method: string, params: unknown, id: string, streamWindow?: number) => ({
  type: "Data" as const,
  codec: "json" as const,
  payload: {
    jsonrpc: "2.0",
    id,
    method,
    params,
    ...(streamWindow === undefined ? {} : { stream_window: streamWindow }),
  } as never,
});

const control = (id: string, body: { stream: "cancel" } | { stream: "credit"; n: number }) => ({
  type: "Data" as const,
  codec: "json" as const,
  payload: { jsonrpc: "2.0", id, ...body } as never,
});

const payloadOf = (e: Envelope): Record<string, unknown> =>
  e.frame.type === "Data" && e.frame.codec === "json"
    ? ((e.frame.payload ?? {}) as Record<string, unknown>)
    : {};

const fameCodeOf = (e: Envelope): unknown =>
  (payloadOf(e)["error"] as { data?: { fame_code?: unknown } } | undefined)?.data?.fame_code;

/** a replica's own address (math@<its path>): what reaches it does not depend on placement */
const physical = (r: RunningProcess) => `math@${pathOf(r)}`;

/** times replica `r` ran record({id}) (its "served" line names the id, at every level) */
const executions = (r: RunningProcess, id: string) =>
  r
    .output()
    .split("\n")
    .filter((l) => l.includes('"op":"record"') && l.includes(`"id":"${id}"`)).length;

beforeAll(async () => {
  stack = await startFabricStack({
    securityProfile: "strict-overlay",
    encryption: "channel",
    agentEnv: { FAME_MAX_CHANNELS_PER_PEER: String(PEER_CHANNELS) },
  });
  for (let i = 1; i <= REPLICAS; i++) replicas.push(await stack.startReplica(`replica${i}`));
  legit = await LegitTraffic.connect(stack.nodeEnv);
  // the legitimate client's corrIds, as they leave (the log check looks for them too)
  const node = legit.fabric.node;
  const send = node.send.bind(node);
  node.send = (to, payload, m) => {
    capabilities.add(m.corrId);
    return send(to, payload, m);
  };
  for (let i = 0; i < 10; i++) await legit.callOnce();
  expect((await legit.stop()).failures).toEqual([]);
  capabilities.add((await legit.fabric.node.channels.forAddress(MATH)).cid);
}, 180_000);

afterAll(async () => {
  for (const a of attackers) await a.close();
  await legit?.close();
  const pids = stack?.allPids() ?? [];
  await stack?.stop();
  await stopAll();
  for (const pid of pids) expect(pidAlive(pid)).toBe(false);
}, 60_000);

describe("freshness of signed envelopes (item 7)", () => {
  it("7: a byte-identical signed request sent twice runs once (replay); one with an old ts runs never (stale_envelope)", async () => {
    const mallory = await insider();
    const ran = (id: string) => replicas.reduce((n, r) => n + executions(r, id), 0);
    await legit.during(async () => {
      const corrId = newId();
      const recordId = `replayed-${newId()}`;
      capabilities.add(corrId);
      // To the pool: round robin would hand the copy to the other replica, which has not seen
      // it, so the copies are stopped where they all pass, at the sentinel.
      const env = mallory.envelope({
        to: MATH,
        replyTo: mallory.replyTo,
        corrId,
        frame: request("record", { id: recordId }, corrId),
      });
      const bytes = encodeEnvelope(env);
      await mallory.sendText(bytes);
      const first = await mallory.waitFor((e) => e.corrId === corrId);
      expect(payloadOf(first)["result"]).toMatchObject({ id: recordId });
      await mallory.sendText(bytes);
      const second = await mallory.waitFor((e) => e.corrId === corrId && e !== first);
      expect(second.frame).toMatchObject({ type: "DeliveryAck", ok: false, refId: env.id, code: "replay" });
      expect(second.sid).toBe("sentinel0");
      expect(ran(recordId)).toBe(1);

      const staleCorr = newId();
      const staleId = `stale-${newId()}`;
      capabilities.add(staleCorr);
      const stale = await mallory.send({
        to: MATH,
        replyTo: mallory.replyTo,
        corrId: staleCorr,
        ts: Date.now() - 10 * 60_000,
        frame: request("record", { id: staleId }, staleCorr),
      });
      const refused = await mallory.waitFor((e) => e.corrId === staleCorr);
      expect(refused.frame).toMatchObject({
        type: "DeliveryAck",
        ok: false,
        refId: stale.id,
        code: "stale_envelope",
      });
      expect(ran(staleId)).toBe(0);
      expect(mallory.received.filter((e) => e.corrId === corrId && e.frame.type === "Data")).toHaveLength(1);
    });
  });
});

describe("channels at the replica (item 4)", () => {
  it("4: SecureOpens of one client beyond FAME_MAX_CHANNELS_PER_PEER are refused by the replica (too_many_channels); a busy channel stays", async () => {
    const mallory = await insider();
    const node = legit.fabric.node;
    const busy = await node.channels.forAddress(MATH);
    const opened = node.channels.metrics.opened;
    const opens = 8 * PEER_CHANNELS;
    await legit.during(async () => {
      // To the logical address: the sentinel refuses SecureOpen to a physical one (not_authorized,
      // ownership-attacks item 4) and counts these against FAME_MAX_CHANNELS_PER_CLIENT (default
      // 1024, far above what is sent here), so every one is placed on a replica, and the refusals
      // come from the replicas' own per-client cap.
      const cids = Array.from({ length: opens }, () => newId());
      for (const cid of cids) {
        capabilities.add(cid);
        await mallory.send({
          to: MATH,
          replyTo: mallory.replyTo,
          corrId: cid,
          frame: { type: "SecureOpen", cid, ephPub: ephPub(), alg: "CHACHA20P1305" },
        });
      }
      const answers = await Promise.all(
        cids.map((cid) =>
          mallory.waitFor(
            (e) => e.corrId === cid && (e.frame.type === "SecureAccept" || e.frame.type === "DeliveryAck"),
          ),
        ),
      );
      const accepted = answers.filter((e) => e.frame.type === "SecureAccept" && e.frame.ok);
      const refused = answers.filter((e) => !(e.frame.type === "SecureAccept" && e.frame.ok));
      const replicaSids = new Set(replicas.map((r) => sidFromPath(pathOf(r))));
      for (const r of refused) {
        expect(r.frame).toMatchObject({ type: "SecureAccept", ok: false, code: "too_many_channels" });
        expect(replicaSids.has(r.sid)).toBe(true);
      }
      // each replica took exactly its cap from this client (placement spreads 24 opens over both)
      const perReplica = new Map<string, number>();
      for (const a of accepted) perReplica.set(a.sid, (perReplica.get(a.sid) ?? 0) + 1);
      expect([...perReplica.values()]).toEqual(Array.from({ length: REPLICAS }, () => PEER_CHANNELS));
      expect(refused).toHaveLength(opens - REPLICAS * PEER_CHANNELS);
      for (let i = 0; i < 5; i++) await legit.callOnce();
    });
    // the legitimate client's channel was neither evicted nor re-keyed: same cid, no new handshake
    expect(node.channels.metrics.opened).toBe(opened);
    expect((await node.channels.forAddress(MATH)).cid).toBe(busy.cid);
  });
});

describe("streams keyed by their verified sender (item 3)", () => {
  it("3: a stranger's cancel and credit for the victim's stream touch nothing; the victim receives every item", async () => {
    const victim = await insider();
    const mallory = await insider();
    const [target] = replicas;
    const to = physical(target!);
    const N = 30;
    const WINDOW = 2;
    await legit.during(async () => {
      const corrId = newId();
      capabilities.add(corrId);
      // the stream runs on a known replica (its own address), so the stranger's frames surely reach it
      await victim.send({
        to,
        replyTo: victim.replyTo,
        corrId,
        frame: request("fib_stream", { n: N }, corrId, WINDOW),
      });
      const items = () =>
        victim.received.filter((e) => e.corrId === corrId && payloadOf(e)["stream"] === "item");
      await victim.waitFor(() => items().length === WINDOW);
      // with the victim's replyTo: refused by the sentinel before any replica sees it
      const forged = await mallory.send({
        to,
        replyTo: victim.replyTo,
        corrId,
        frame: control(corrId, { stream: "cancel" }),
      });
      expect((await mallory.nackFor(forged.id)).frame).toMatchObject({ code: "reply_to_not_owned" });
      // with its own replyTo: reaches the replica, whose stream key (sender sid, corrId) is not the victim's
      await mallory.send({
        to,
        replyTo: mallory.replyTo,
        corrId,
        frame: control(corrId, { stream: "credit", n: 5 }),
      });
      await mallory.send({
        to,
        replyTo: mallory.replyTo,
        corrId,
        frame: control(corrId, { stream: "cancel" }),
      });
      // a barrier: the replica handles mallory's frames in order, so once this is answered it saw both
      const barrier = newId();
      capabilities.add(barrier);
      await mallory.send({
        to,
        replyTo: mallory.replyTo,
        corrId: barrier,
        frame: request("add", { x: 1, y: 2 }, barrier),
      });
      expect(payloadOf(await mallory.waitFor((e) => e.corrId === barrier))["result"]).toBe(3);
      // the stranger's credit released nothing, and its cancel ended nothing
      expect(items()).toHaveLength(WINDOW);
      // the victim reads on: one credit per item it receives (credit acknowledges items sent)
      for (let seq = 0; seq < N; seq++) {
        await victim.waitFor((e) => e.corrId === corrId && payloadOf(e)["seq"] === seq);
        await victim.send({
          to,
          replyTo: victim.replyTo,
          corrId,
          frame: control(corrId, { stream: "credit", n: 1 }),
        });
      }
      await victim.waitFor((e) => e.corrId === corrId && payloadOf(e)["stream"] === "end");
      expect(items().map((e) => payloadOf(e)["seq"])).toEqual(Array.from({ length: N }, (_, i) => i));
      // nothing about the victim's stream went to mallory
      expect(mallory.received.filter((e) => e.corrId === corrId && e.frame.type === "Data")).toEqual([]);
    });
  });
});

describe("call slots (item 5)", () => {
  it("5: streams one client opens and never reads hold at most its share of each replica's slots; its excess gets too_many_inflight", async () => {
    const hog = await insider();
    const streams = REPLICAS * AGENT_SLOTS + 88;
    const corrIds = Array.from({ length: streams }, () => newId());
    let held: Envelope[] = [];
    await legit.during(async () => {
      // window 1 and no credit ever: each admitted stream holds its slot until the credit timeout
      for (const id of corrIds) {
        capabilities.add(id);
        await hog.send({
          to: MATH,
          replyTo: hog.replyTo,
          corrId: id,
          frame: request("fib_stream", { n: 1000 }, id, 1),
        });
      }
      const first = await Promise.all(
        corrIds.map((id) => hog.waitFor((e) => e.corrId === id && e.frame.type === "Data", 30_000)),
      );
      held = first.filter((e) => payloadOf(e)["stream"] === "item");
      const refused = first.filter((e) => payloadOf(e)["stream"] !== "item");
      for (const r of refused) expect(fameCodeOf(r)).toBe("too_many_inflight");
      // the sentinel's per-connection cap (FAME_MAX_INFLIGHT, 1024) is above this: the replicas refused
      expect(hog.received.filter((e) => e.frame.type === "DeliveryAck")).toEqual([]);
      const perReplica = new Map<string, number>();
      for (const h of held) perReplica.set(h.sid, (perReplica.get(h.sid) ?? 0) + 1);
      expect([...perReplica.values()]).toEqual(Array.from({ length: REPLICAS }, () => CALLER_SLOTS));
      // while the hog holds them, the legitimate client keeps being served
      for (let i = 0; i < 20; i++) await legit.callOnce();
    });
    // the hog's own cancels (its sid, its corrIds) do end its streams, at the replica holding each
    const pathBySid = new Map(replicas.map((r) => [sidFromPath(pathOf(r)), physical(r)]));
    for (const h of held)
      await hog.send({
        to: pathBySid.get(h.sid)!,
        replyTo: hog.replyTo,
        corrId: h.corrId!,
        frame: control(h.corrId!, { stream: "cancel" }),
      });
    await legit.callOnce();
    expect((await legit.stop()).failures).toEqual([]);
  }, 60_000);
});

interface ProcsModule {
  startDetached(spec: { name: string; script: string }, env: NodeJS.ProcessEnv): { exited: Promise<unknown> };
}

describe("logs (item 11)", () => {
  it("11: at the default level no log of any process names a cid or corrId used in this file", async () => {
    // calls of its own (the file's other tests add theirs when they run first)
    const caller = await insider();
    for (let i = 0; i < REPLICAS; i++) {
      const corrId = newId();
      capabilities.add(corrId);
      await caller.send({
        to: MATH,
        replyTo: caller.replyTo,
        corrId,
        frame: request("add", { x: i, y: 1 }, corrId),
      });
      expect(payloadOf(await caller.waitFor((e) => e.corrId === corrId))["result"]).toBe(i + 1);
    }
    for (let i = 0; i < 5; i++) await legit.callOnce();
    expect((await legit.stop()).failures).toEqual([]);
    const procs = [stack.sentinel, ...stack.services, ...replicas];
    const logs = procs.map((p) => p.output()).join("\n");
    expect([...capabilities].filter((id) => logs.includes(id))).toEqual([]);
    // the lines that would carry them at debug are there: the check looked at real output
    for (const r of replicas) expect(r.output()).toContain('"msg":"served"');
  });

  it("11: make start's run directory is 0700 and its log files 0600, also when an older run left them open", async () => {
    // procs.mjs puts run/ next to scripts/: a copy in a scratch tree leaves the real run/ alone
    const root = mkdtempSync(join(tmpdir(), "fame-procs-"));
    try {
      mkdirSync(join(root, "scripts", "fabric"), { recursive: true });
      for (const f of ["procs.mjs", "topology.mjs"])
        copyFileSync(join(REPO_ROOT, "scripts", "fabric", f), join(root, "scripts", "fabric", f));
      const run = join(root, "run");
      mkdirSync(run, { mode: 0o755 });
      chmodSync(run, 0o755);
      // an older run's logs, world-readable: one with content (rotated to .log.1), one empty (reused)
      writeFileSync(join(run, "old.log"), "cid and corrId at debug\n", { mode: 0o644 });
      writeFileSync(join(run, "empty.log"), "", { mode: 0o644 });
      chmodSync(join(run, "old.log"), 0o644);
      chmodSync(join(run, "empty.log"), 0o644);
      const script = join(root, "child.mjs");
      writeFileSync(script, 'console.log("child ran");\n');
      const { startDetached } = (await import(
        pathToFileURL(join(root, "scripts", "fabric", "procs.mjs")).href
      )) as ProcsModule;
      for (const name of ["old", "empty", "fresh"]) await startDetached({ name, script }, {}).exited;
      const mode = (p: string) => statSync(join(run, p)).mode & 0o777;
      expect(mode(".")).toBe(0o700);
      for (const f of ["old.log", "old.log.1", "empty.log", "fresh.log"])
        expect([f, mode(f)]).toEqual([f, 0o600]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
