import { Agent, type Fabric, RpcError } from "@fame/sdk";
import { type FabricStack, pidAlive, startFabricStack, stopAll } from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  client,
  distributionOf,
  type MathApi,
  pathOf,
  sentinelYaml,
  systemIdOf,
} from "./affinity-helpers.js";

/**
 * Issue 9, seed 002 with real processes: a single-active pool (sticky active replica,
 * standby promoted when the active dies), NOT_ACTIVE for a standby, SDK retries with
 * failover latency, and the sentinel's app-level health checks against real agents.
 */
const SOLO = "solo@fame.fabric";

const yaml = sentinelYaml(
  [
    `    - address: "${SOLO}"`,
    "      mode: single-active",
    "      draining_timeout_sec: 5",
    "      health_check: { operation: whoami, interval_sec: 1, timeout_ms: 800 }",
    "",
  ].join("\n"),
);

let stack: FabricStack;
const clients: Fabric[] = [];

beforeAll(async () => {
  stack = await startFabricStack({
    securityProfile: "strict-overlay",
    encryption: "plaintext",
    sentinelEnv: { FAME_CONFIG: yaml.file },
    agentEnv: { FAME_AGENT_ADDRESS: SOLO },
  });
  await stack.startReplica("solo1");
  await stack.startReplica("solo2");
}, 180_000);

afterAll(async () => {
  for (const c of clients) await c.close();
  const pids = stack?.allPids() ?? [];
  await stack?.stop();
  await stopAll();
  yaml.cleanup();
  for (const pid of pids) expect(pidAlive(pid)).toBe(false);
}, 60_000);

describe("single-active pool (seed 002)", () => {
  it("health-checks both replicas with a JSON-RPC call from the sentinel", async () => {
    await expect
      .poll(
        async () => (await distributionOf(stack, SOLO)).replicas.map((r) => (r.health?.passed ?? 0) > 0),
        {
          timeout: 10_000,
          interval: 250,
        },
      )
      .toEqual([true, true]);
    const d = await distributionOf(stack, SOLO);
    expect(d.replicas.every((r) => r.healthy && r.health?.failed === 0)).toBe(true);
  });

  it("sends every call to the active replica and NOT_ACTIVE to a standby addressed directly", async () => {
    const f = await client(stack, "plaintext", clients);
    const solo = Agent.remoteByAddress<MathApi>(SOLO, { endpoint: f.endpoint });
    for (let i = 0; i < 5; i++) expect((await solo.whoami()).replica).toBe("solo1");
    expect((await distributionOf(stack, SOLO)).active).toBe(systemIdOf(stack.replicas.get("solo1")!));
    const standby = Agent.remoteByAddress<MathApi>(`solo@${pathOf(stack.replicas.get("solo2")!)}`, {
      endpoint: f.endpoint,
      retry: false,
    });
    const err = await standby.whoami().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).fameCode).toBe("NOT_ACTIVE");
    // under another name the standby's agent is not reached either: a node dispatches
    // `name@/path` only to the agent it serves as `name@…`
    const renamed = Agent.remoteByAddress<MathApi>(`x@${pathOf(stack.replicas.get("solo2")!)}`, {
      endpoint: f.endpoint,
      retry: false,
    });
    const err2 = await renamed.whoami().then(
      (r) => r,
      (e: unknown) => e,
    );
    expect(err2).toBeInstanceOf(RpcError);
    expect((err2 as RpcError).fameCode).toBe("no_route");
  });

  it("fails over within 2 s of a SIGKILL, with retries counted and failover latency reported", async () => {
    const f = await client(stack, "plaintext", clients);
    const solo = Agent.remoteByAddress<MathApi>(SOLO, {
      endpoint: f.endpoint,
      idempotent: ["sleep", "whoami"],
      retry: { maxRetries: 10, initialDelayMs: 50, maxDelayMs: 400 },
    });
    const active = stack.replicas.get("solo1")!;
    const sleeps = () => (active.output().match(/"op":"sleep"/g) ?? []).length;
    const before = sleeps();
    // a call in flight on the active replica when it dies
    const inflight = solo.sleep({ ms: 1000 });
    await expect.poll(sleeps).toBeGreaterThan(before);
    const killedAt = Date.now();
    await active.stop("SIGKILL");
    let resumedAt = 0;
    for (let i = 0; i < 100 && resumedAt === 0; i++) {
      const who = await solo.whoami().catch(() => undefined);
      if (who?.replica === "solo2") resumedAt = Date.now();
    }
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt - killedAt).toBeLessThan(2000);
    expect(await inflight).toBe(1000);
    const m = f.endpoint.client.metrics();
    expect(m.retries).toBeGreaterThan(0);
    expect(m.failovers).toBeGreaterThan(0);
    expect(m.lastFailoverLatencyMs).toBeGreaterThan(0);
    console.log(
      `failover: calls resumed ${resumedAt - killedAt} ms after SIGKILL; ` +
        `retries ${m.retries}, SDK failover latency ${Math.round(m.lastFailoverLatencyMs ?? 0)} ms`,
    );
    const d = await distributionOf(stack, SOLO);
    expect(d.active).toBe(systemIdOf(stack.replicas.get("solo2")!));
    expect(d.counters.promotions).toBeGreaterThanOrEqual(2);
    for (let i = 0; i < 5; i++) expect((await solo.whoami()).replica).toBe("solo2");
  });
});
