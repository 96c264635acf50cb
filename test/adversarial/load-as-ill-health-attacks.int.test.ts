import { Agent, type Fabric } from "@fame/sdk";
import { type FabricStack, pidAlive, startFabricStack, stopAll } from "@fame/testkit";
import { afterAll, beforeAll, expect, it } from "vitest";
import { client, distributionOf, type MathApi, sentinelYaml } from "../integration/affinity-helpers.js";

/**
 * 2026-12-05 audit: a client that fills the active replica of a single-active pool with slow
 * calls (two processes, each within its per-caller share) made the sentinel's own health probe
 * answer `too_many_inflight`. The probe failed, the replica was marked unhealthy and the standby
 * promoted; a second wave left no eligible replica and every client got NOT_ACTIVE for ~50 s.
 * Load is not ill health: the sentinel's probes run in slots of their own on the replica.
 */
const LEDGER = "ledger@fame.fabric";
const yaml = sentinelYaml(
  [
    `    - address: "${LEDGER}"`,
    "      mode: single-active",
    "      health_check: { operation: whoami, interval_sec: 1, timeout_ms: 800, unhealthy_threshold: 2 }",
    "",
  ].join("\n"),
);
let stack: FabricStack;
const fabrics: Fabric[] = [];

beforeAll(async () => {
  stack = await startFabricStack({
    securityProfile: "strict-overlay",
    encryption: "plaintext",
    sentinelEnv: { FAME_CONFIG: yaml.file },
  });
  await stack.startReplica("l1", { FAME_AGENT_ADDRESS: LEDGER });
  await stack.startReplica("l2", { FAME_AGENT_ADDRESS: LEDGER });
}, 180_000);

afterAll(async () => {
  for (const f of fabrics) await f.close().catch(() => {});
  const pids = stack?.allPids() ?? [];
  await stack?.stop();
  await stopAll();
  yaml.cleanup();
  for (const pid of pids) expect(pidAlive(pid)).toBe(false);
}, 60_000);

it("a client filling every call slot of the active replica does not make it unhealthy", async () => {
  const victim = Agent.remoteByAddress<MathApi>(LEDGER, {
    endpoint: (await client(stack, "plaintext", fabrics)).endpoint,
  });
  const home = (await victim.whoami()).replica;
  const before = await distributionOf(stack, LEDGER);
  const activeId = (before as { active?: string }).active;
  expect(activeId).toBeDefined();
  // processes of 128 slow calls each (the per-caller share of the replica's 256 slots): a third
  // one fills the slots that the victim's own calls below take for a moment
  const flood: Promise<unknown>[] = [];
  for (let k = 0; k < 3; k++) {
    const f = await client(stack, "plaintext", fabrics);
    const p = Agent.remoteByAddress<MathApi>(LEDGER, { endpoint: f.endpoint, retry: false });
    for (let i = 0; i < 128; i++) flood.push(p.sleep({ ms: 20_000 }).catch(() => undefined));
  }
  const probesOf = async () => {
    const d = await distributionOf(stack, LEDGER);
    return d.replicas.find((r) => r.id === activeId)?.health;
  };
  // the replica is full: a call beyond its slots is refused as such
  await expect
    .poll(
      async () =>
        victim.sleep({ ms: 1 }).then(
          () => "served",
          (e: { fameCode?: string }) => e.fameCode,
        ),
      {
        timeout: 10_000,
      },
    )
    .toBe("too_many_inflight");
  // three more probes pass while it is full, and it stays the active one
  const passedBefore = (await probesOf())?.passed ?? 0;
  await expect
    .poll(async () => (await probesOf())?.passed ?? 0, { timeout: 10_000 })
    .toBeGreaterThanOrEqual(passedBefore + 3);
  const during = await distributionOf(stack, LEDGER);
  expect((during as { active?: string }).active).toBe(activeId);
  expect(during.counters.promotions).toBe(before.counters.promotions);
  expect(during.replicas.find((r) => r.id === activeId)?.healthy).toBe(true);
  expect((await probesOf())?.failed ?? 0).toBe(0);
  expect(home).toBeDefined();
}, 120_000);
