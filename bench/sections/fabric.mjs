/**
 * Fabric rows: RPC through the sentinel in three security set-ups, streaming,
 * channel handshakes, and failover after SIGKILL of the pinned replica.
 */

import { createLogger } from "../../packages/logger/dist/index.js";
import { Agent, connectFabric, nodeConfigFromEnv } from "../../packages/sdk/dist/index.js";
import { startFabricStack } from "../../packages/testkit/dist/index.js";
import { runForResult, startServer } from "../lib/procs.mjs";
import { median, nowMs } from "../lib/stats.mjs";

const ADDRESS = "math@fame.fabric";
export const FIB_N = 1000;
const FAILOVER_ROUNDS = 5;

/** a bench-agent replica (see fabric/bench-agent.mjs) on a stack, ready once it serves */
export function startBenchReplica(stack, name, extraEnv = {}) {
  return startServer(
    `replica:${name}`,
    "fabric/bench-agent.mjs",
    {},
    {
      ...stack.nodeEnv,
      FAME_REQUESTED_LOGICALS: "*.fame.fabric",
      FAME_REPLICA_NAME: name,
      ...extraEnv,
    },
  );
}

export function rpcTasks({ handshakes }) {
  return [
    { name: "add_seq", kind: "add", concurrency: 1 },
    { name: "add_inflight64", kind: "add", concurrency: 64 },
    { name: "fib_stream", kind: "fib", concurrency: 1, n: FIB_N },
    ...(handshakes ? [{ name: "handshake_seq", kind: "handshake", concurrency: 1 }] : []),
  ];
}

export function runClient(ctx, stack, replica, encryption, tasks, extraEnv = {}) {
  return runForResult(
    "fabric-client",
    "fabric/fabric-client.mjs",
    {
      address: ADDRESS,
      warmupMs: ctx.warmupMs,
      measureMs: ctx.measureMs,
      tasks,
      pids: { sentinel: stack.sentinel.pid, replica: replica.pid },
    },
    {
      env: {
        ...stack.nodeEnv,
        FAME_DEFAULT_ENCRYPTION_LEVEL: encryption,
        FAME_LOG_LEVEL: "warn",
        ...extraEnv,
      },
    },
  );
}

/** starts a stack, registers it for cleanup on interruption, and always stops it */
export async function withStack(ctx, opts, fn) {
  const stack = await startFabricStack(opts);
  const stop = () => stack.stop();
  ctx.cleanups.add(stop);
  try {
    return await fn(stack);
  } finally {
    await stack.stop();
    ctx.cleanups.delete(stop);
  }
}

export async function runFabric(ctx) {
  const { progress } = ctx;
  const out = {};
  progress.step("fabric open/plaintext: starting stack (open profile, welcome admission)");
  await withStack(
    ctx,
    { securityProfile: "open", encryption: "plaintext", logLevel: "warn" },
    async (stack) => {
      const r1 = await startBenchReplica(stack, "replica1");
      try {
        progress.step("fabric open/plaintext: add sequential, 64 in flight, fib_stream");
        out.openPlaintext = await runClient(ctx, stack, r1, "plaintext", rpcTasks({ handshakes: false }));
      } finally {
        await r1.stop("SIGTERM", 5000);
      }
    },
  );
  progress.step("fabric strict-overlay: starting stack");
  await withStack(ctx, { securityProfile: "strict-overlay", logLevel: "warn" }, async (stack) => {
    const r1 = await startBenchReplica(stack, "replica1");
    const replicas = new Map([["replica1", r1]]);
    try {
      progress.step("fabric strict-overlay/plaintext: add sequential, 64 in flight, fib_stream");
      out.strictPlaintext = await runClient(ctx, stack, r1, "plaintext", rpcTasks({ handshakes: false }));
      progress.step("fabric strict-overlay/channel: add sequential, 64 in flight, fib_stream, handshakes");
      out.strictChannel = await runClient(ctx, stack, r1, "channel", rpcTasks({ handshakes: true }));
      replicas.set("replica2", await startBenchReplica(stack, "replica2"));
      progress.step(`fabric failover: SIGKILL the pinned replica, ${FAILOVER_ROUNDS} rounds`);
      out.failover = await measureFailover(stack, replicas);
    } finally {
      for (const r of replicas.values()) await r.stop("SIGTERM", 5000);
    }
  });
  return out;
}

/**
 * Kill (SIGKILL) the replica the client's channel is pinned to, then time from the
 * kill to the next successful call; restart the victim for the next round.
 */
async function measureFailover(stack, replicas) {
  const fabric = await connectFabric({
    config: nodeConfigFromEnv({ ...stack.nodeEnv, FAME_DEFAULT_ENCRYPTION_LEVEL: "channel" }),
    logger: createLogger({ name: "bench-failover", level: "error" }),
    installDefault: false,
  });
  const math = Agent.remoteByAddress(ADDRESS, { endpoint: fabric.endpoint, idempotent: ["add", "whoami"] });
  const rounds = [];
  try {
    for (let round = 0; round < FAILOVER_ROUNDS; round++) {
      const { replica: pinned } = await math.whoami();
      for (let i = 0; i < 20; i++) await math.add({ x: i, y: 1 }); // a warm, pinned channel
      const victim = replicas.get(pinned);
      if (!victim) throw new Error(`pinned to unknown replica ${pinned}`);
      const t0 = nowMs();
      process.kill(victim.pid, "SIGKILL");
      const sum = await math.add({ x: round, y: 1 });
      const ms = nowMs() - t0;
      if (sum !== round + 1) throw new Error(`add after failover returned ${sum}`);
      const { replica: now } = await math.whoami();
      if (now === pinned) throw new Error(`still served by killed replica ${pinned}`);
      rounds.push({
        ms,
        from: pinned,
        to: now,
        sdkFailoverMs: fabric.endpoint.client.metrics().lastFailoverLatencyMs,
      });
      await victim.exited;
      replicas.set(pinned, await startBenchReplica(stack, pinned));
    }
  } finally {
    await fabric.close();
  }
  return { rounds, medianMs: median(rounds.map((r) => r.ms)), metrics: fabric.endpoint.client.metrics() };
}
