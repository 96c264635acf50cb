import { connectFabric, type Fabric, nodeConfigFromEnv } from "@fame/sdk";
import { type FabricStack, pidAlive, startFabricStack, stopAll } from "@fame/testkit";
import { afterAll, beforeAll, expect, it } from "vitest";
import { quietLogger } from "../support/fabric-clients.js";

/**
 * Audit round 12 (MEDIUM): a caller starts long calls, cancels them (or not) and leaves, again
 * and again. Its cancel settled the calls on its side only and its departure told the replica
 * nothing, so the operations ran on in the agent's slots: a legitimate client got
 * too_many_inflight for 39 s. Now a cancel reaches the callee (ctx.signal aborts), and a caller
 * that just leaves is reported by its sentinel (caller_gone). Real processes: TLS, Welcome
 * admission, strict-overlay channels; math-agent's `sleep` watches its signal.
 */
const MATH = "math@fame.fabric";
let stack: FabricStack;
const fabrics: Fabric[] = [];

async function client(): Promise<Fabric> {
  const f = await connectFabric({
    config: nodeConfigFromEnv(stack.nodeEnv),
    logger: quietLogger(),
    installDefault: false,
  });
  fabrics.push(f);
  return f;
}

beforeAll(async () => {
  stack = await startFabricStack({ securityProfile: "strict-overlay", encryption: "channel" });
  await stack.startReplica("replica1");
}, 180_000);

afterAll(async () => {
  for (const f of fabrics) await f.close().catch(() => {});
  const pids = stack?.allPids() ?? [];
  await stack?.stop();
  await stopAll();
  for (const pid of pids) expect(pidAlive(pid)).toBe(false);
}, 60_000);

/** the legitimate client's call, answered or refused (its fame code) */
async function add(legit: Fabric): Promise<string> {
  return legit.endpoint.client.call(MATH, "add", { x: 1, y: 1 }, { retry: false, timeoutMs: 5000 }).then(
    () => "ok",
    (e: unknown) => `refused: ${(e as { fameCode?: string }).fameCode}`,
  );
}

/** polls the legitimate client's call until answered; what it heard meanwhile (bounded) */
async function servedWithin(legit: Fabric, ms: number): Promise<string[]> {
  const heard: string[] = [];
  const end = Date.now() + ms;
  for (let i = 0; i < 200; i++) {
    heard.push(await add(legit));
    if (heard.at(-1) === "ok" || Date.now() > end) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return heard;
}

/** `n` calls that each run 40 s unless cancelled: the agent's slots for this caller, full */
function occupy(f: Fabric, n: number, signal?: AbortSignal): Promise<unknown>[] {
  return Array.from({ length: n }, () =>
    f.endpoint.client
      .call(MATH, "sleep", { ms: 40_000 }, { timeoutMs: 60_000, ...(signal ? { signal } : {}) })
      .catch(() => undefined),
  );
}

/**
 * Two attacker processes (each a caller of its own, within its share of the agent's slots)
 * until the legitimate client is refused: the agent's slots are full.
 */
async function fillSlots(legit: Fabric, signal?: AbortSignal) {
  const attackers = [await client(), await client()];
  const calls = attackers.flatMap((a) => occupy(a, 128, signal));
  await expect.poll(() => add(legit), { timeout: 15_000, interval: 200 }).not.toBe("ok");
  return { attackers, calls };
}

it("operations of callers that cancelled give back their slots, the callers still connected", async () => {
  const legit = await client();
  expect(await add(legit)).toBe("ok");
  const abort = new AbortController();
  const { attackers, calls } = await fillSlots(legit, abort.signal);
  abort.abort();
  await Promise.all(calls);
  // 40 s of sleeping before the fix; the slots come back as the cancels land
  const heard = await servedWithin(legit, 10_000);
  expect(heard.at(-1)).toBe("ok");
  for (const a of attackers) await a.close();
}, 120_000);

it("operations of callers that left without a word give back their slots (their sentinel says so)", async () => {
  const legit = await client();
  expect(await add(legit)).toBe("ok");
  const { attackers, calls } = await fillSlots(legit);
  // no cancel: the processes' connections just end
  for (const a of attackers) await a.close();
  await Promise.all(calls);
  const heard = await servedWithin(legit, 10_000);
  expect(heard.at(-1)).toBe("ok");
}, 120_000);
