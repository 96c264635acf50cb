/**
 * Reconnect storm row: N nodes (replicas serving math@fame.fabric and clients each holding a
 * warm channel to it), spread over a few host processes, all admitted through the stack's real
 * OAuth2 → Welcome → CA path (welcome admission, strict-overlay). The sentinel is SIGKILLed and
 * started again on its port (memory mode: pins gone); the row is the time from the kill, and
 * from the moment the new sentinel's port opened, until every node is re-admitted and attached
 * again and every client's next idempotent call answered. ~20-40 s.
 */

import { requestJson } from "../../packages/http-service/dist/client.js";
import { RESULT_TAG } from "../lib/child-io.mjs";
import { cpuMsOf } from "../lib/cpu.mjs";
import { startServer } from "../lib/procs.mjs";
import { withStack } from "./fabric.mjs";

export const STORM_NODES = Number(process.env.BENCH_STORM_NODES ?? 200);
const REPLICAS = 10;
const HOSTS = 4;
/**
 * Every node here dials from 127.0.0.1; a real fleet comes from many addresses. The per-IP
 * attach limits (120 upgrades/min, 32 pending, 64 in their handshake) would make this a test of
 * one IP's quota, so they are lifted to the global bounds; FAME_MAX_PENDING_ATTACH (256) and
 * FAME_MAX_HANDSHAKES (512) still apply.
 */
export const STORM_SENTINEL_ENV = {
  FAME_ATTACH_RATE_PER_MIN: "100000",
  FAME_MAX_PENDING_ATTACH_PER_IP: "256",
  FAME_MAX_HANDSHAKES_PER_IP: "512",
};
/** Welcome, the CA and OAuth2 see the same 200 nodes from one IP re-admitting at once */
export const STORM_SERVICE_ENV = { FAME_MAX_HANDSHAKES_PER_IP: "512" };

/** Runs one storm against a started stack; shared with test/integration/reconnect-storm. */
export async function stormOnce(stack, { nodes = STORM_NODES, replicas = REPLICAS, hosts = HOSTS } = {}) {
  const clients = nodes - replicas;
  const hostArgs = [];
  // replicas first, on a host of their own, so clients find the address served
  hostArgs.push({ replicas, clients: 0, tag: "r" });
  const per = Math.ceil(clients / (hosts - 1));
  for (let h = 0, left = clients; left > 0; h++, left -= per)
    hostArgs.push({ replicas: 0, clients: Math.min(per, left), tag: `h${h}` });
  const procs = [];
  try {
    for (const a of hostArgs) {
      procs.push(
        await startServer(`storm-${a.tag}`, "scale/storm-nodes.mjs", {
          ...a,
          env: stack.nodeEnv,
          deadlineMs: 120_000,
        }),
      );
    }
    // services by name (oauth2, welcome, ca): their CPU during the storm is its admission cost
    const services = Object.fromEntries(stack.services.map((p) => [p.name, p.pid]));
    const cpuBefore = Object.fromEntries(Object.entries(services).map(([n, pid]) => [n, cpuMsOf(pid)]));
    const killedAt = Date.now();
    await stack.restartSentinel();
    // the harness's health poll is answered late while 200 nodes attach: the sentinel says
    // itself how long ago its port opened
    const upAt = await listeningSince(stack);
    const restartMs = upAt - killedAt;
    const results = [];
    for (const p of procs) {
      await p.waitForOutput(new RegExp(`^${RESULT_TAG} [^\\n]*\\n`, "m"), 130_000);
      const line = p
        .output()
        .split("\n")
        .find((l) => l.startsWith(`${RESULT_TAG} `));
      if (!line) throw new Error(`${p.name} printed no result:\n${p.output().slice(-2000)}`);
      results.push(JSON.parse(line.slice(RESULT_TAG.length + 1)));
    }
    const cpuMs = Object.fromEntries(
      Object.entries(services).map(([n, pid]) => [n, Math.round(cpuMsOf(pid) - cpuBefore[n])]),
    );
    cpuMs.sentinel = Math.round(cpuMsOf(stack.sentinel.pid));
    // the node hosts' own: re-admission (TLS to three services, key, CSR), attach, channels
    cpuMs.nodes = results.reduce((n, r) => n + r.cpuMs, 0);
    const times = results.flatMap((r) => [...r.answeredAt, ...r.reattachedAt]);
    const sum = (key) => {
      const all = {};
      for (const r of results) for (const [k, v] of Object.entries(r[key])) all[k] = (all[k] ?? 0) + v;
      return all;
    };
    const sorted = times.map((t) => t - killedAt).sort((a, b) => a - b);
    const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
    return {
      nodes: results.reduce((n, r) => n + r.nodes, 0),
      recovered: times.length,
      failedCalls: results.reduce((n, r) => n + r.failedCalls, 0),
      channelsOpened: results.reduce((n, r) => n + r.channelsOpened, 0),
      sidsKept: results.reduce((n, r) => n + r.sidsKept, 0),
      sentinelRestartMs: Math.round(restartMs),
      allAnsweringMs: sorted.at(-1),
      allAnsweringAfterUpMs: Math.max(...times) - upAt,
      p50Ms: at(0.5),
      p90Ms: at(0.9),
      cpuMs,
      failures: sum("failures"),
      warnings: sum("warnings"),
    };
  } finally {
    for (const p of procs) await p.stop("SIGKILL");
  }
}

/** epoch ms at which the stack's sentinel started listening (from its /health uptime) */
async function listeningSince(stack) {
  const asked = Date.now();
  const health = await requestJson(`${stack.urls.sentinel}/health`, { ca: stack.trustBundle });
  const answered = Date.now();
  return typeof health.uptimeMs === "number" ? (asked + answered) / 2 - health.uptimeMs : answered;
}

export async function runStorm(ctx) {
  ctx.progress.step(`storm: ${STORM_NODES} nodes, sentinel SIGKILL and restart (starting stack)`);
  let out;
  await withStack(
    ctx,
    {
      securityProfile: "strict-overlay",
      logLevel: "warn",
      sentinelEnv: STORM_SENTINEL_ENV,
      serviceEnv: STORM_SERVICE_ENV,
    },
    async (stack) => {
      out = await stormOnce(stack);
    },
  );
  return out;
}
