/**
 * Quick measurement of routing between sentinels (docs/scaling.md, "Routing between sentinels"):
 * one math replica on sentinel B; a client on B (same sentinel) and a client on A (its frames
 * cross sentinels over NATS both ways) call it over an encrypted channel, one client at a time:
 * sequential p50/p99 and 64-in-flight calls/s, with each process's CPU µs per call. Real
 * processes on loopback (testkit's startClusterStack): nats-server
 * (JetStream), OAuth2, Welcome and CA in cluster mode, two sentinels. Built code only.
 *
 *   node bench/cross-sentinel-quick.mjs [--measure-ms N] [--warmup-ms N] [--nats-servers N]
 */
import { Writable } from "node:stream";
import { createLogger } from "../packages/logger/dist/index.js";
import { Agent, connectFabric, nodeConfigFromEnv } from "../packages/sdk/dist/index.js";
import { startClusterStack, stopAll } from "../packages/testkit/dist/index.js";
import { closedLoop } from "./lib/closed-loop.mjs";
import { cpuProbes } from "./lib/cpu.mjs";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
};
const measureMs = arg("--measure-ms", 4000);
const warmupMs = arg("--warmup-ms", 1500);
const natsServers = arg("--nats-servers", 1);

const quiet = createLogger({
  name: "bench",
  level: "error",
  destination: new Writable({ write: (_c, _e, cb) => cb() }),
});
let stack;

async function main() {
  stack = await startClusterStack({
    clusterId: "bench",
    name: "fame-cross-sentinel",
    natsServers,
    sentinelEnv: { FAME_MAX_INFLIGHT: "1024" },
  });
  const connect = () =>
    connectFabric({ config: nodeConfigFromEnv(stack.clientEnv), logger: quiet, installDefault: false });
  // While only B is live, Welcome places the replica and the same-sentinel client there;
  // then A, the least loaded, gets the cross-sentinel client.
  await stack.startSentinel("B");
  await stack.welcomeSees(1);
  const replica = await stack.startReplica("r1");
  const same = await connect();
  await stack.startSentinel("A");
  await stack.welcomeSees(2);
  for (let i = 0; i < 200 && ((await stack.status("A")).cluster?.remoteNodes ?? 0) < 2; i++)
    await new Promise((r) => setTimeout(r, 50));
  const cross = await connect();
  const placedOnA = (await stack.status("A")).nodes.length;
  if (placedOnA !== 1)
    throw new Error(`expected the cross client alone on A, found ${placedOnA} nodes there`);
  // CPU µs per call of every process on the way: they move far less than rates on a shared box
  const cpu = cpuProbes({
    client: process.pid,
    sentinelA: stack.sentinels.get("A").proc.pid,
    sentinelB: stack.sentinels.get("B").proc.pid,
    replica: replica.pid,
    ...("nodes" in stack.nats ? {} : { nats: stack.nats.pid }),
  });

  const results = {};
  for (const [name, f] of [
    ["same-sentinel", same],
    ["cross-sentinel", cross],
  ]) {
    const math = Agent.remoteByAddress("math@fame.fabric", { endpoint: f.endpoint, idempotent: ["add"] });
    const op = () => math.add({ x: 1, y: 2 });
    const seq = await closedLoop(op, { concurrency: 1, warmupMs, measureMs, cpu });
    const par = await closedLoop(op, { concurrency: 64, warmupMs, measureMs, cpu });
    if (seq.errors + par.errors > 0) throw new Error(`${name}: ${seq.firstError ?? par.firstError}`);
    results[name] = {
      seqP50Ms: seq.latencyMs.p50,
      seqP99Ms: seq.latencyMs.p99,
      seqPerSec: seq.perSec,
      inflight64PerSec: par.perSec,
      inflight64P50Ms: par.latencyMs.p50,
      seqCpuUsPerCall: roundAll(seq.cpuUsPerOp),
      inflight64CpuUsPerCall: roundAll(par.cpuUsPerOp),
    };
  }
  const ratio = {
    seqP50: results["cross-sentinel"].seqP50Ms / results["same-sentinel"].seqP50Ms,
    inflight64Throughput:
      results["cross-sentinel"].inflight64PerSec / results["same-sentinel"].inflight64PerSec,
  };
  console.log(JSON.stringify({ measureMs, warmupMs, results, ratio }, null, 2));
  await cross.close();
  await same.close();
}

function roundAll(o) {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Math.round(v)]));
}

try {
  await main();
} finally {
  await stack?.stop();
  await stopAll();
}
