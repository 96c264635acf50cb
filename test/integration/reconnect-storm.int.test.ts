import { fileURLToPath } from "node:url";
import {
  type FabricStack,
  pidAlive,
  REPO_ROOT,
  type RunningProcess,
  startFabricStack,
  startProcess,
  stopAll,
} from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * Reconnect storm: 200 nodes (10 math replicas and 190 clients each holding a warm channel),
 * spread over four host processes of the bench's storm child, all admitted through the real
 * OAuth2 → Welcome → CA path (welcome admission, strict-overlay). The sentinel is SIGKILLed
 * and started again on its port (memory mode: every pin is gone). Every node must come back,
 * under the sid it had (Welcome derives it from principal and instance, so the node keeps its
 * certificate), and every client's next idempotent call be answered, none failing. The time is the bench's
 * row (bench/sections/storm.mjs), not asserted here.
 */

const NODES = Number(process.env["FAME_IT_STORM_NODES"] ?? 200);
const REPLICAS = 10;
const HOSTS = 4;
const HOST_SCRIPT = fileURLToPath(new URL("../../bench/scale/storm-nodes.mjs", import.meta.url));

interface HostResult {
  nodes: number;
  answeredAt: number[];
  reattachedAt: number[];
  failedCalls: number;
  failures: Record<string, number>;
  sidsKept: number;
}

let stack: FabricStack;
const hosts: RunningProcess[] = [];

beforeAll(async () => {
  stack = await startFabricStack({
    logLevel: "warn",
    // all nodes dial from 127.0.0.1: the per-IP attach quotas would measure one IP's allowance
    sentinelEnv: {
      FAME_ATTACH_RATE_PER_MIN: "100000",
      FAME_MAX_PENDING_ATTACH_PER_IP: "256",
      FAME_MAX_HANDSHAKES_PER_IP: "512",
    },
    // Welcome, the CA and OAuth2 see the same nodes from one IP re-admitting at once
    serviceEnv: { FAME_MAX_HANDSHAKES_PER_IP: "512" },
  });
}, 60_000);

afterAll(async () => {
  for (const h of hosts) await h.stop("SIGKILL");
  const pids = [...(stack?.allPids() ?? []), ...hosts.map((h) => h.pid)];
  await stack?.stop();
  await stopAll();
  for (const pid of pids) expect(pidAlive(pid)).toBe(false);
});

function startHost(tag: string, replicas: number, clients: number): Promise<RunningProcess> {
  return startProcess({
    name: `storm-${tag}`,
    script: HOST_SCRIPT,
    args: [JSON.stringify({ tag, replicas, clients, env: stack.nodeEnv, deadlineMs: 120_000 })],
    cwd: REPO_ROOT,
    readyLine: /BENCH_READY/,
    readyTimeoutMs: 120_000,
  });
}

async function resultOf(host: RunningProcess): Promise<HostResult> {
  await host.waitForOutput(/^BENCH_RESULT [^\n]*\n/m, 130_000);
  const line = host
    .output()
    .split("\n")
    .find((l) => l.startsWith("BENCH_RESULT "));
  return JSON.parse(line!.slice("BENCH_RESULT ".length)) as HostResult;
}

describe("reconnect storm", () => {
  it(`${NODES} nodes re-admit, re-attach and answer after a sentinel restart, no idempotent call failing`, async () => {
    hosts.push(await startHost("r", REPLICAS, 0));
    const clients = NODES - REPLICAS;
    const per = Math.ceil(clients / (HOSTS - 1));
    for (let h = 0, left = clients; left > 0; h++, left -= per)
      hosts.push(await startHost(`h${h}`, 0, Math.min(per, left)));

    await stack.restartSentinel();
    const results = await Promise.all(hosts.map(resultOf));

    expect(results.reduce((n, r) => n + r.nodes, 0)).toBe(NODES);
    expect(results.flatMap((r) => Object.keys(r.failures))).toEqual([]);
    expect(results.reduce((n, r) => n + r.failedCalls, 0)).toBe(0);
    expect(results.reduce((n, r) => n + r.answeredAt.length, 0)).toBe(clients);
    expect(results.reduce((n, r) => n + r.reattachedAt.length, 0)).toBe(REPLICAS);
    // every node came back as itself (same sid, so its kept certificate still named it)
    expect(results.reduce((n, r) => n + r.sidsKept, 0)).toBe(NODES);
  }, 240_000);
});
