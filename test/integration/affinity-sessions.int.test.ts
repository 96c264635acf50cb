import { requestRaw } from "@fame/http-service/client";
import { Agent, type Fabric, RpcError } from "@fame/sdk";
import {
  binOf,
  type FabricStack,
  pidAlive,
  REPO_ROOT,
  startFabricStack,
  startProcess,
  stopAll,
} from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  client,
  distributionOf,
  type MathApi,
  sentinelYaml,
  sessionId,
  systemIdOf,
} from "./affinity-helpers.js";

/**
 * Issue 9 with real processes (strict-overlay): session-id affinity (seed 003's two clients),
 * channel-encrypted sessions, exclusive sessions, draining, and the /metrics page.
 */
const MATH = "math@fame.fabric";
const EXCL = "excl@fame.fabric";

const yaml = sentinelYaml(
  [
    `    - address: "${MATH}"`,
    "      load_balancing: round_robin",
    "      affinity: session",
    "      affinity_ttl_sec: 300",
    "      bounded_load_factor: 1.25",
    "      draining_timeout_sec: 60",
    `    - address: "${EXCL}"`,
    "      affinity: session",
    "      exclusive: true",
    "",
  ].join("\n"),
);

let stack: FabricStack;
const clients: Fabric[] = [];

beforeAll(async () => {
  stack = await startFabricStack({
    securityProfile: "strict-overlay",
    encryption: "plaintext",
    // one credential for every client here: placement is under test, not the principal's share
    // of a pool (ownership-attacks "8: …" tests that)
    sentinelEnv: { FAME_CONFIG: yaml.file, FAME_SESSION_PRINCIPAL_SHARE_PCT: "100" },
  });
  // math replicas drain for real on SIGTERM: serve pinned work until 2 s of quiet
  const drain = { FAME_DRAIN_TIMEOUT_MS: "30000", FAME_DRAIN_QUIET_MS: "2000" };
  await stack.startReplica("replica1", drain);
  await stack.startReplica("replica2", drain);
  await stack.startReplica("excl1", { FAME_AGENT_ADDRESS: EXCL });
  await stack.startReplica("excl2", { FAME_AGENT_ADDRESS: EXCL });
}, 180_000);

afterAll(async () => {
  for (const c of clients) await c.close();
  const pids = stack?.allPids() ?? [];
  await stack?.stop();
  await stopAll();
  yaml.cleanup();
  for (const pid of pids) expect(pidAlive(pid)).toBe(false);
}, 60_000);

describe("session affinity (seed 003: two clients, two replicas)", () => {
  it("keeps each client's session on one replica, the two on different replicas, to the end", async () => {
    const [f1, f2] = [await client(stack, "plaintext", clients), await client(stack, "plaintext", clients)];
    const s1 = Agent.remoteByAddress<MathApi>(MATH, { endpoint: f1.endpoint, sessionId: sessionId("c1") });
    const s2 = Agent.remoteByAddress<MathApi>(MATH, { endpoint: f2.endpoint, sessionId: sessionId("c2") });
    const seen1 = new Set<string>();
    const seen2 = new Set<string>();
    for (let i = 0; i < 10; i++) {
      seen1.add((await s1.whoami()).replica);
      seen2.add((await s2.whoami()).replica);
      expect(await s1.add({ x: i, y: 1 })).toBe(i + 1);
    }
    expect(seen1.size).toBe(1);
    expect(seen2.size).toBe(1);
    const [r1] = seen1;
    const [r2] = seen2;
    expect(r1).not.toBe(r2);
    const d = await distributionOf(stack, MATH);
    expect(d.sessions).toBe(2);
    expect(d.replicas.map((r) => r.sessions)).toEqual([1, 1]);
    expect(d.counters).toMatchObject({ stickyMisses: 2, stickyViolations: 0 });
    expect(d.counters.stickyHits).toBeGreaterThanOrEqual(28);
    // the "shutdown" call: answered by the same replica, and it ends the session
    expect((await s1.whoami(undefined, { endSession: true })).replica).toBe(r1);
    expect((await s2.whoami(undefined, { endSession: true })).replica).toBe(r2);
    await expect.poll(async () => (await distributionOf(stack, MATH)).sessions).toBe(0);
  });

  it("opens a session's channel on the session's replica (channel encryption)", async () => {
    const fs = [await client(stack, "channel", clients), await client(stack, "channel", clients)];
    const proxies = fs.map((f, i) =>
      Agent.remoteByAddress<MathApi>(MATH, { endpoint: f.endpoint, sessionId: sessionId(`enc${i}`) }),
    );
    const seen = [new Set<string>(), new Set<string>()];
    for (let i = 0; i < 10; i++) {
      for (const [k, p] of proxies.entries()) seen[k]!.add((await p.whoami()).replica);
    }
    expect(seen.map((s) => s.size)).toEqual([1, 1]);
    expect([...seen[0]!][0]).not.toBe([...seen[1]!][0]);
    for (const f of fs) expect(f.node.channels.metrics.opened).toBe(1);
    // channel pins and the session table agree: nothing was routed against a session
    const d = await distributionOf(stack, MATH);
    expect(d.counters.stickyViolations).toBe(0);
    expect(d.replicas.map((r) => r.sessions)).toEqual([1, 1]);
    for (const p of proxies) await p.whoami(undefined, { endSession: true });
    await expect.poll(async () => (await distributionOf(stack, MATH)).sessions).toBe(0);
  });
});

describe("the demo client with FAME_SESSION_ID (make run)", () => {
  it("can be run again with the same session id: each run ends the session it made", async () => {
    // a session belongs to the process that made it; one left open would refuse the next run
    // (session_not_owned) until the pool's affinity TTL
    const id = sessionId("demo");
    for (let run = 1; run <= 2; run++) {
      const p = await startProcess({
        name: `math-client-session-${run}`,
        script: binOf("services", "math-client"),
        cwd: REPO_ROOT,
        env: { ...stack.nodeEnv, FAME_SESSION_ID: id },
      });
      expect(await p.exited, p.output()).toBe(0);
      expect(p.output()).toMatch(/served by: /);
    }
  }, 60_000);
});

describe("exclusive sessions", () => {
  it("gives each replica one session, refuses a third with no_free_replica, frees on end", async () => {
    const f = await client(stack, "plaintext", clients);
    const open = (label: string) =>
      Agent.remoteByAddress<MathApi>(EXCL, {
        endpoint: f.endpoint,
        sessionId: sessionId(label),
        retry: false,
      });
    const a = open("a");
    const b = open("b");
    const c = open("c");
    const ra = (await a.whoami()).replica;
    const rb = (await b.whoami()).replica;
    expect(new Set([ra, rb])).toEqual(new Set(["excl1", "excl2"]));
    const refused = await c.whoami().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(RpcError);
    expect((refused as RpcError).fameCode).toBe("no_free_replica");
    expect((refused as RpcError).message).toMatch(/already holds a session/);
    expect((await a.whoami(undefined, { endSession: true })).replica).toBe(ra);
    await expect.poll(async () => (await c.whoami().catch(() => ({ replica: "refused" }))).replica).toBe(ra);
    expect((await distributionOf(stack, EXCL)).counters.noFreeReplica).toBeGreaterThanOrEqual(1);
  });
});

describe("draining (SIGTERM)", () => {
  it("a draining replica finishes its session, gets no new ones, then leaves", async () => {
    const f = await client(stack, "plaintext", clients);
    const kept = Agent.remoteByAddress<MathApi>(MATH, { endpoint: f.endpoint, sessionId: sessionId("kept") });
    const home = (await kept.whoami()).replica;
    const other = home === "replica1" ? "replica2" : "replica1";
    const proc = stack.replicas.get(home)!;
    const homeId = systemIdOf(proc);
    process.kill(proc.pid, "SIGTERM");
    await expect
      .poll(async () => (await distributionOf(stack, MATH)).replicas.find((r) => r.id === homeId)?.draining)
      .toBe(true);
    // the kept session stays home; every new session goes to the other replica
    for (let i = 0; i < 6; i++) {
      expect((await kept.whoami()).replica).toBe(home);
      const fresh = Agent.remoteByAddress<MathApi>(MATH, {
        endpoint: f.endpoint,
        sessionId: sessionId(`new${i}`),
      });
      expect((await fresh.whoami()).replica).toBe(other);
      await fresh.whoami(undefined, { endSession: true });
    }
    expect((await kept.whoami(undefined, { endSession: true })).replica).toBe(home);
    // quiet now: the replica finishes draining and exits on its own
    expect(await proc.exited).toBe(0);
    const d = await distributionOf(stack, MATH);
    expect(d.replicas.map((r) => r.id)).not.toContain(homeId);
    expect(d.counters.stickyViolations).toBe(0);
  });
});

describe("GET /metrics", () => {
  it("serves Prometheus text with per-pool, per-replica distribution", async () => {
    const res = await requestRaw(`${stack.urls.sentinel}/metrics`, {
      ca: stack.trustBundle,
      headers: stack.adminHeaders,
    });
    expect(res.status).toBe(200);
    expect(String(res.headers["content-type"])).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = res.body.toString("utf8");
    expect(text).toContain("# TYPE fame_pool_requests_total counter");
    expect(text).toMatch(
      /^fame_pool_requests_total\{pool="math@fame\.fabric",replica="[A-Za-z0-9_]+"\} [1-9]\d*$/m,
    );
    expect(text).toMatch(/^fame_pool_sticky_hits_total\{pool="math@fame\.fabric"\} [1-9]\d*$/m);
    expect(text).toMatch(/^fame_pool_no_free_replica_total\{pool="excl@fame\.fabric"\} [1-9]\d*$/m);
    expect(text).toMatch(
      /^fame_pool_replica_sessions\{pool="excl@fame\.fabric",replica="[A-Za-z0-9_]+"\} \d+$/m,
    );
  });
});
