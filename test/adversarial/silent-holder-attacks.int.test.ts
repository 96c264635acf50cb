import { Agent, connectFabric, type Fabric, nodeConfigFromEnv } from "@fame/sdk";
import { type FabricStack, pidAlive, type RunningProcess, startFabricStack, stopAll } from "@fame/testkit";
import { afterAll, beforeAll, expect, it } from "vitest";
import { distributionOf, systemIdOf } from "../integration/affinity-helpers.js";
import { quietLogger } from "../support/fabric-clients.js";
import { LEDGER, type LedgerApi, ledgerPoolYaml, startSilentHolder } from "./support/silent-holder.js";

/**
 * Audit round 8 (HIGH): an admitted node with a serve grant for a single-active pool wins the
 * election, answers the sentinel's health probes and drops every client call. The lease is
 * renewed while it looks healthy, so it kept the role for ever and every client timed out.
 * The sentinel now watches the calls it routes: a replica that holds other principals' calls
 * unanswered for the pool's `unanswered_sec` while answering none of them is ejected, and the
 * role moves to the standby. Real processes: TLS, Welcome admission, strict-overlay channels.
 */
const yaml = ledgerPoolYaml(2);

let stack: FabricStack;
let holder: RunningProcess;
let honest: RunningProcess;
let fabric: Fabric | undefined;

beforeAll(async () => {
  stack = await startFabricStack({
    securityProfile: "strict-overlay",
    encryption: "channel",
    sentinelEnv: { FAME_CONFIG: yaml.file },
  });
  // bound first, so the election makes it the active member
  holder = await startSilentHolder(stack);
  honest = await stack.startReplica("honest", { FAME_AGENT_ADDRESS: LEDGER });
}, 180_000);

afterAll(async () => {
  await fabric?.close().catch(() => {});
  const pids = [...(stack?.allPids() ?? []), ...(holder ? [holder.child.pid!] : [])];
  await stack?.stop();
  await stopAll();
  yaml.cleanup();
  for (const pid of pids) expect(pidAlive(pid)).toBe(false);
}, 60_000);

it("a holder that answers its probes and drops every call loses the role; the caller is served again", async () => {
  const honestId = systemIdOf(honest);
  const before = await distributionOf(stack, LEDGER);
  expect(before.replicas.map((r) => r.id)).toContain(honestId);
  const holderId = before.replicas.find((r) => r.id !== honestId)!.id;

  fabric = await connectFabric({
    config: nodeConfigFromEnv(stack.clientEnv),
    logger: quietLogger(),
    installDefault: false,
  });
  const ledger = Agent.remoteByAddress<LedgerApi>(LEDGER, { endpoint: fabric.endpoint, timeoutMs: 1500 });

  // the legitimate client calls throughout; its calls fail until the sentinel sees the stall
  const outcomes: string[] = [];
  const deadline = Date.now() + 60_000;
  let served = 0;
  for (let x = 0; served < 10 && Date.now() < deadline; x++) {
    try {
      expect(await ledger.add({ x, y: 1 })).toBe(x + 1);
      outcomes.push("ok");
      served++;
    } catch (err) {
      outcomes.push((err as { fameCode?: string }).fameCode ?? (err as Error).message);
      served = 0;
    }
  }
  expect(served).toBe(10);
  // without the defence every call times out; with it only those of the first seconds do
  // (the role goes to the member bound first, at the first call)
  expect(outcomes[0]).toBe("timeout");
  expect(outcomes.filter((o) => o !== "ok").length).toBeLessThanOrEqual(6);
  expect((await ledger.whoami()).replica).toBe("honest");
  await holder.waitForOutput(/dropped a call/, 1000);

  const after = await distributionOf(stack, LEDGER);
  expect(after.active).toBe(honestId);
  expect(after.counters.ejections).toBe(1);
  const held = after.replicas.find((r) => r.id === holderId)!;
  expect(held.healthy).toBe(false);
  expect(held.ejectedUntil).toBeGreaterThan(Date.now() + 60_000);
  // its probes kept passing all along: they alone could not have caught it
  expect(held.health?.failed ?? 0).toBe(0);
  expect(held.health?.passed ?? 0).toBeGreaterThan(0);
  expect(stack.sentinel.output()).toMatch(/"msg":"replica ejected: it left calls unanswered"/);
}, 120_000);
