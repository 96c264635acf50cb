/**
 * Reconnect storm, one node host: `replicas` math-agent replicas serving `address` and
 * `clients` clients each holding a warm channel to it, every one a FabricNode admitted through
 * the stack's OAuth2 → Welcome → CA path. After BENCH_READY it watches its nodes: once the
 * sentinel dies each client makes one idempotent call (it waits out the outage in the SDK) and
 * each replica waits to be attached again. BENCH_RESULT gives, per node, the epoch ms it was
 * answering again, failed calls, how many came back under the same sid, and the warnings its logger saw (link losses, failed reattaches
 * by reason); a client host then exits, a replica host serves on until it is stopped.
 * Args: { env, replicas, clients, address, callTimeoutMs, deadlineMs, tag }.
 */
import { Writable } from "node:stream";
import { createLogger } from "../../packages/logger/dist/index.js";
import { Agent, connectFabric, nodeConfigFromEnv } from "../../packages/sdk/dist/index.js";
import { MathAgent } from "../../services/math-agent/dist/index.js";
import { emitReady, emitResult, readArgs, runChild } from "../lib/child-io.mjs";

const args = readArgs();
const address = args.address ?? "math@fame.fabric";
const tag = args.tag ?? "h";
const warnings = new Map();

/** counts warnings by message and reason; keeps nothing else (no ids, no params) */
function countingLogger(name) {
  return createLogger({
    name,
    level: "warn",
    destination: new Writable({
      write(chunk, _enc, cb) {
        for (const line of String(chunk).split("\n")) {
          if (!line) continue;
          try {
            const o = JSON.parse(line);
            const reason =
              typeof o.err === "string" ? `: ${o.err.replace(/[0-9a-f-]{8,}/gi, "…").slice(0, 60)}` : "";
            const key = `${o.msg}${reason}`;
            warnings.set(key, (warnings.get(key) ?? 0) + 1);
          } catch {
            // not JSON: nothing to count
          }
        }
        cb();
      },
    }),
  });
}

async function connect(name, env, logicals) {
  return connectFabric({
    name,
    config: nodeConfigFromEnv({ ...env, FAME_RPC_TIMEOUT_MS: String(args.callTimeoutMs ?? 20_000) }),
    logger: countingLogger(name),
    installDefault: false,
    ...(logicals ? { logicals } : {}),
    // a client re-attached before the replicas have bound again hears no_route for a moment:
    // idempotent calls wait it out (backoff with jitter) rather than fail
    // (BENCH_STORM_RETRY_NO_ROUTE=0 keeps the SDK's default policy, for comparison)
    ...(logicals || process.env.BENCH_STORM_RETRY_NO_ROUTE === "0"
      ? {}
      : { rpc: { retry: { retryNoRoute: true, maxRetries: 10, maxDelayMs: 1000 } } }),
  });
}

/** starts at most `width` of fn(i) at once: a host's own admissions do not all leave in one turn */
async function inBatches(count, width, fn) {
  const out = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      out[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, count) }, worker));
  return out;
}

async function main() {
  const env = args.env;
  const replicas = await inBatches(args.replicas ?? 0, 8, async (i) => {
    const f = await connect(`${tag}r${i}`, env, ["*.fame.fabric"]);
    await new MathAgent({ replica: `${tag}r${i}` }).serve(address, {
      endpoint: f.endpoint,
      drainOnSignal: false,
    });
    return f;
  });
  const clients = await inBatches(args.clients ?? 0, 8, async (i) => {
    const f = await connect(`${tag}c${i}`, env);
    const api = Agent.remoteByAddress(address, { endpoint: f.endpoint, idempotent: ["add"] });
    if ((await api.add({ x: i, y: 1 })) !== i + 1) throw new Error("warm call answered wrong");
    return { f, api };
  });
  emitReady({ nodes: replicas.length + clients.length });
  // each node's sid before the storm: Welcome derives it from (principal, instance), so a node
  // re-admitted after the restart should come back under the same one (and keep its certificate)
  const sidBefore = new Map([...replicas, ...clients.map((c) => c.f)].map((f) => [f, f.connection.sid]));
  let sidsKept = 0;

  const cpu0 = process.cpuUsage();
  const deadline = Date.now() + (args.deadlineMs ?? 60_000);
  const answeredAt = [];
  let failedCalls = 0;
  const failures = new Map();
  const clientDone = clients.map(async ({ f, api }, i) => {
    while (f.connection.state === "attached" && Date.now() < deadline) await tick(5);
    // the link is down: the next call waits for the reattach and a new channel
    for (let attempt = 0; attempt < 20 && Date.now() < deadline; attempt++) {
      try {
        if ((await api.add({ x: i, y: 2 })) !== i + 2) throw new Error("answered wrong");
        answeredAt.push(Date.now());
        if (f.connection.sid === sidBefore.get(f)) sidsKept++;
        return;
      } catch (err) {
        failedCalls++;
        const code = `${err?.code ?? err?.name ?? "error"}: ${String(err?.message).slice(0, 60)}`;
        failures.set(code, (failures.get(code) ?? 0) + 1);
      }
    }
  });
  const reattachedAt = [];
  const replicaDone = replicas.map(async (f) => {
    while (f.connection.state === "attached" && Date.now() < deadline) await tick(5);
    while (f.connection.state !== "attached" && Date.now() < deadline) await tick(5);
    if (f.connection.state === "attached") {
      reattachedAt.push(Date.now());
      if (f.connection.sid === sidBefore.get(f)) sidsKept++;
    }
  });
  await Promise.all([...clientDone, ...replicaDone]);
  const cpu = process.cpuUsage(cpu0);
  const channelsOpened = clients.reduce((n, { f }) => n + f.node.channels.metrics.opened, 0);
  emitResult({
    nodes: replicas.length + clients.length,
    answeredAt,
    reattachedAt,
    failedCalls,
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    failures: Object.fromEntries(failures),
    channelsOpened,
    sidsKept,
    warnings: Object.fromEntries(warnings),
  });
  for (const { f } of clients) await f.close();
  // replicas serve the other hosts' clients until the orchestrator stops this process
  if (replicas.length > 0) await new Promise(() => {});
}

const tick = (ms) => new Promise((r) => setTimeout(r, ms));

runChild("storm-nodes", main);
