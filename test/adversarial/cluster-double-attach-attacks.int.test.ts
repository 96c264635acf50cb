import { admissionOptionsFromEnv, admitNode } from "@fame/identity";
import { newId } from "@fame/protocol";
import { type ClusterStack, pidAlive, startClusterStack, stopAll } from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sentinelYaml } from "../integration/affinity-helpers.js";
import { attachAdmitted } from "./support/admitted.js";
import type { Attacker } from "./support/attacker.js";
import { LegitTraffic } from "./support/legit-traffic.js";

/**
 * Audit round 14 (MEDIUM, reproduced): one node attached to two sentinels of a cluster at once.
 * Admitted twice with one instance id it gets the same system id and path, and a ticket for
 * each sentinel. Its calls placed through sentinel A were answered by the replicas on B to its
 * reply address, which B delivered to its B connection: A never heard an answer, took the
 * honest replica for stalled and ejected it, for the whole cluster. Now a node has one live
 * connection in the cluster, as at one sentinel: when its record shows it attached to another
 * sentinel later, the connection here ends like a superseded one (close code 4000), and its
 * teardown settles what it had in flight.
 *
 * Sentinel B's clock runs 3 s ahead of A's here (audit round 15: attaches ordered by each
 * sentinel's own clock let a node attached to B, then to A, keep both connections). Attaches
 * are stamped after any attach of the node the sentinel has seen, so the later one wins.
 */
const SKEW_MS = 3000;
const MATH = "math@fame.fabric";
const yaml = sentinelYaml(
  [`    - address: "${MATH}"`, "      outlier_detection: { unanswered_sec: 3, ejection_sec: 60 }", ""].join(
    "\n",
  ),
);

let stack: ClusterStack;
let legit: LegitTraffic;
const attackers: Attacker[] = [];

interface Dist {
  address: string;
  counters: { ejections: number };
}
const ejectionsAt = async (id: string) =>
  ((await stack.status<{ distribution: Dist[] }>(id)).distribution ?? []).find((d) => d.address === MATH)
    ?.counters.ejections ?? 0;

/** the node admitted (real OAuth2 → Welcome → CA) with `instanceId`, attached to `url` by hand */
async function attachTo(url: string, instanceId: string): Promise<Attacker> {
  const adm = await admitNode({
    ...admissionOptionsFromEnv(stack.clientEnv),
    instanceId,
    requestedLogicals: [],
  });
  return attachAdmitted({ url, ca: stack.pki.trustBundle }, adm, attackers);
}

/** `n` clear calls to MATH; their corrIds */
async function calls(a: Attacker, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const corrId = newId();
    ids.push(corrId);
    await a.send({
      to: MATH,
      replyTo: a.replyTo,
      corrId,
      frame: {
        type: "Data",
        codec: "json",
        payload: { jsonrpc: "2.0", id: corrId, method: "add", params: { x: i, y: 1 } } as never,
      },
    });
  }
  return ids;
}

const answered = (a: Attacker, ids: string[]) =>
  ids.filter((id) => a.received.some((e) => e.corrId === id && e.frame.type === "Data")).length;

beforeAll(async () => {
  stack = await startClusterStack({ name: "fame-double-attach", sentinelEnv: { FAME_CONFIG: yaml.file } });
  await stack.startSentinel("B", {
    NODE_OPTIONS: `--import=${new URL("./support/clock-offset.mjs", import.meta.url).pathname}`,
    FAME_TEST_CLOCK_OFFSET_MS: String(SKEW_MS),
  });
  await stack.welcomeSees(1);
  await stack.startReplica("r1");
  await stack.startReplica("r2");
  await stack.startSentinel("A");
  await stack.welcomeSees(2);
  // A routes to both replicas once it follows B's records (bounded wait: no poll outside a test)
  for (let i = 0; i < 150; i++) {
    if ((await stack.status<{ cluster?: { remoteNodes: number } }>("A")).cluster?.remoteNodes === 2) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  legit = await LegitTraffic.connect(stack.clientEnv);
  for (let i = 0; i < 5; i++) await legit.callOnce();
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

describe("one live connection per node in a cluster", () => {
  it("a node that attaches to a second sentinel loses its first connection; its calls are answered where it is, nobody is ejected", async () => {
    const A = stack.sentinels.get("A")!;
    const B = stack.sentinels.get("B")!;
    const instanceId = `dual_${newId().replace(/[-_]/g, "x").slice(0, 12)}`;
    const atA = await attachTo(A.attach, instanceId);
    const before = await calls(atA, 5);
    await expect.poll(() => answered(atA, before), { timeout: 10_000 }).toBe(5);
    await legit.during(async () => {
      const atB = await attachTo(B.attach, instanceId);
      expect(atB.path).toBe(atA.path);
      // sentinel A hears of the later attach through the node directory and ends its connection
      expect(await atA.closed).toEqual({ code: 4000, reason: "attached to another sentinel" });
      const after = await calls(atB, 20);
      await expect.poll(() => answered(atB, after), { timeout: 10_000 }).toBe(20);
    });
    expect(await ejectionsAt("A")).toBe(0);
    expect(await ejectionsAt("B")).toBe(0);
  }, 120_000);

  it("with the first attach at the sentinel whose clock runs ahead, the later attach still wins", async () => {
    const A = stack.sentinels.get("A")!;
    const B = stack.sentinels.get("B")!;
    const instanceId = `skew_${newId().replace(/[-_]/g, "x").slice(0, 12)}`;
    const atB = await attachTo(B.attach, instanceId);
    const before = await calls(atB, 3);
    await expect.poll(() => answered(atB, before), { timeout: 10_000 }).toBe(3);
    await legit.during(async () => {
      const atA = await attachTo(A.attach, instanceId);
      expect(await atB.closed).toEqual({ code: 4000, reason: "attached to another sentinel" });
      const after = await calls(atA, 20);
      await expect.poll(() => answered(atA, after), { timeout: 10_000 }).toBe(20);
      expect(atA.isOpen).toBe(true);
    });
    expect(await ejectionsAt("A")).toBe(0);
    expect(await ejectionsAt("B")).toBe(0);
  }, 120_000);
});
