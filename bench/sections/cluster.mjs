/**
 * Cluster rows (issue #16): channel RPC across sentinels against one sentinel, channel opens
 * (each records a pin) with the NATS backend against memory, at 1, 2 and 3 sentinels, and how
 * long calls stop when the client's sentinel is SIGKILLed. Needs nats-server (Debian's
 * package); without it the section says so and measures nothing.
 */
import { createLogger } from "../../packages/logger/dist/index.js";
import { Agent, connectFabric, nodeConfigFromEnv } from "../../packages/sdk/dist/index.js";
import { natsServerBinary } from "../../packages/testkit/dist/index.js";
import { startClusterStack } from "../lib/cluster-stack.mjs";
import { runForResult } from "../lib/procs.mjs";
import { median, nowMs } from "../lib/stats.mjs";
import { runClient, startBenchReplica, withStack } from "./fabric.mjs";

const TASKS = [
  { name: "add_seq", kind: "add", concurrency: 1 },
  { name: "add_inflight64", kind: "add", concurrency: 64 },
  { name: "handshake_seq", kind: "handshake", concurrency: 1 },
];
const SEQ_TASK = [{ name: "add_seq", kind: "add", concurrency: 1 }];
/** sequential cross-sentinel runs, each paired with a one-sentinel run just before it */
const PAIRED_ROUNDS = 5;
const FAILOVER_ROUNDS = 3;
const ATTACH_NODES = 1000;
const ATTACH_CONCURRENCY = 16;

export async function runCluster(ctx) {
  const { progress } = ctx;
  try {
    natsServerBinary();
  } catch (err) {
    progress.step(`cluster: skipped (${err.message}); on Debian/Ubuntu: apt-get install nats-server`);
    return { skipped: String(err.message) };
  }
  const out = {};
  progress.step("cluster: one sentinel, memory backend (the baseline)");
  // The baseline stays up through the section: each cross-sentinel sequential row is measured
  // in pairs with it, back to back, so a slower minute of this shared box moves both.
  await withStack(ctx, { securityProfile: "strict-overlay", logLevel: "warn" }, async (memStack) => {
    const r1 = await startBenchReplica(memStack, "replica1");
    try {
      out.memory = (await runClient(ctx, memStack, r1, "channel", TASKS)).results;
      await runClusterRows(ctx, out, { stack: memStack, replica: r1 });
    } finally {
      await r1.stop("SIGTERM", 5000);
    }
  });
  return out;
}

async function runClusterRows(ctx, out, baseline) {
  const { progress } = ctx;

  progress.step("cluster: 3 NATS servers (JetStream, 3 copies), identity services in cluster mode");
  const stack = await startClusterStack();
  const stop = () => stack.stop();
  ctx.cleanups.add(stop);
  const replicas = [];
  const fillers = [];
  try {
    // Welcome places on the least loaded live sentinel: with only A up, the replica goes there
    await stack.startSentinel("A");
    await stack.welcomeSees(1);
    const replica = await startBenchReplica({ nodeEnv: stack.nodeEnv }, "replica1");
    replicas.push(replica);
    const a = stack.sentinels.get("A").proc;
    progress.step("cluster 1 sentinel (NATS backend): client and replica on A");
    out.oneSentinel = (
      await runClient(ctx, { nodeEnv: stack.nodeEnv, sentinel: a }, replica, "channel", TASKS)
    ).results;

    await stack.startSentinel("B");
    await stack.welcomeSees(2);
    progress.step("cluster 2 sentinels: client on B, replica on A (every frame crosses between sentinels)");
    out.twoSentinels = await crossRun(ctx, stack, replica, "B");
    progress.step(`cluster 2 sentinels: sequential, ${PAIRED_ROUNDS} rounds paired with one sentinel`);
    out.twoSentinels.pairs = await pairedSequential(ctx, stack, replica, "B", baseline);

    // an idle node on B first, so the least loaded sentinel for the next client is C alone
    // (Welcome counts nodes from the sentinels' heartbeats, every 2 s: the bench client that
    // just left B may still be counted there)
    fillers.push(await placeFiller(stack, "B"));
    await stack.startSentinel("C");
    await stack.welcomeSees(3);
    progress.step("cluster 3 sentinels: client on C, replica on A");
    out.threeSentinels = await crossRun(ctx, stack, replica, "C");
    progress.step(`cluster 3 sentinels: sequential, ${PAIRED_ROUNDS} rounds paired with one sentinel`);
    out.threeSentinels.pairs = await pairedSequential(ctx, stack, replica, "C", baseline);

    progress.step(`cluster failover: SIGKILL the client's sentinel, ${FAILOVER_ROUNDS} rounds`);
    out.failover = await measureSentinelFailover(stack);

    for (const storage of ["memory", "nats"]) {
      progress.step(
        `cluster attach rate, ${storage} backend: ${ATTACH_NODES} nodes, ${ATTACH_CONCURRENCY} at a time`,
      );
      out[`attach_${storage}`] = await attachRate(stack, storage);
    }
  } finally {
    for (const f of fillers) await f.close().catch(() => {});
    for (const r of replicas) await r.stop("SIGTERM", 5000).catch(() => {});
    await stack.stop();
    ctx.cleanups.delete(stop);
  }
}

/**
 * Sequential calls, one sentinel (the memory stack) then across sentinels, back to back,
 * PAIRED_ROUNDS times: the row's ratio is the median of the pairs' ratios. Each cross client
 * is checked to have landed on `id` (its frames forwarded); Welcome counts a sentinel's nodes
 * from its adverts (every 2 s), so a client that just left still counts for a moment.
 */
async function pairedSequential(ctx, stack, replica, id, baseline) {
  const short = { ...ctx, warmupMs: Math.min(ctx.warmupMs, 1000), measureMs: Math.min(ctx.measureMs, 2000) };
  const pairs = [];
  for (let round = 0; round < PAIRED_ROUNDS; round++) {
    const base = (await runClient(short, baseline.stack, baseline.replica, "channel", SEQ_TASK)).results
      .add_seq;
    let cross;
    for (let attempt = 0; attempt < 5 && cross === undefined; attempt++) {
      await new Promise((r) => setTimeout(r, 2500));
      cross = await crossSeq(short, stack, replica, id);
    }
    if (cross === undefined) throw new Error(`Welcome placed no bench client on ${id} in 5 tries`);
    pairs.push({
      baseP50Ms: base.latencyMs.p50,
      crossP50Ms: cross.latencyMs.p50,
      ratio: cross.latencyMs.p50 / base.latencyMs.p50,
    });
  }
  return pairs;
}

/** one sequential run from a client on `id`; undefined when Welcome placed it elsewhere */
async function crossSeq(ctx, stack, replica, id) {
  const { results, forwarded } = await clientOn(ctx, stack, replica, id, SEQ_TASK);
  return forwarded >= 100 ? results.add_seq : undefined;
}

/**
 * The bench client attaches to the least loaded sentinel, `id`; its frames to the replica on A
 * cross between sentinels (direct links, NATS while one is down), which `id`'s forwarding
 * counters prove (no other node sends from there).
 */
async function crossRun(ctx, stack, replica, id) {
  const { results, forwarded } = await clientOn(ctx, stack, replica, id, TASKS);
  if (forwarded < 1000)
    throw new Error(`the bench client was not on sentinel ${id}: it forwarded ${forwarded} frames`);
  return { ...results, clientOn: id, replicaOn: "A", framesForwarded: forwarded };
}

/** a bench client's run, with the frames sentinel `id` forwarded meanwhile (its client's calls) */
async function clientOn(ctx, stack, replica, id, tasks) {
  const before = (await stack.status(id)).cluster?.forwardedOut ?? 0;
  const r = await runClient(
    ctx,
    { nodeEnv: stack.nodeEnv, sentinel: stack.sentinels.get(id).proc },
    replica,
    "channel",
    tasks,
  );
  const forwarded = ((await stack.status(id)).cluster?.forwardedOut ?? 0) - before;
  return { results: r.results, forwarded };
}

/**
 * An SDK client (in this process) calls in a loop; the sentinel it is attached to is SIGKILLed
 * and the time to the next successful call is taken; the sentinel is restarted for the next round.
 */
async function measureSentinelFailover(stack) {
  const fabric = await connectFabric({
    config: nodeConfigFromEnv({ ...stack.nodeEnv, FAME_NODE_NAME: "bench-failover" }),
    logger: createLogger({ name: "bench-failover", level: "error" }),
    installDefault: false,
  });
  const math = Agent.remoteByAddress("math@fame.fabric", {
    endpoint: fabric.endpoint,
    idempotent: ["add"],
    timeoutMs: 1000,
  });
  const rounds = [];
  try {
    for (let round = 0; round < FAILOVER_ROUNDS; round++) {
      for (let i = 0; i < 20; i++) await math.add({ x: i, y: 1 });
      const victim = await attachedTo(stack, "bench-failover");
      const t0 = nowMs();
      process.kill(victim.proc.pid, "SIGKILL");
      const sum = await math.add({ x: round, y: 1 });
      const ms = nowMs() - t0;
      if (sum !== round + 1) throw new Error(`add after failover returned ${sum}`);
      rounds.push({ ms, killed: victim.id, to: (await attachedTo(stack, "bench-failover")).id });
      await victim.proc.exited;
      await stack.startSentinel(victim.id);
      await stack.welcomeSees(stack.sentinels.size);
    }
  } finally {
    await fabric.close();
  }
  return { rounds, medianMs: median(rounds.map((r) => r.ms)), metrics: fabric.endpoint.client.metrics() };
}

/** scale/attach-client.mjs against a sentinel whose state is in memory or on NATS */
// (a sentinel id is its envelope sid: letters and digits only)
async function attachRate(stack, storage) {
  const s = await stack.startAttachSentinel(`attach${storage}`, storage);
  try {
    return await runForResult("attach-client", "scale/attach-client.mjs", {
      url: s.url,
      ca: s.ca,
      count: ATTACH_NODES,
      concurrency: ATTACH_CONCURRENCY,
      sentinelPid: s.proc.pid,
      healthUrl: s.healthUrl,
    });
  } catch (err) {
    throw new Error(`${err.message}\nsentinel (${storage}) output:\n${s.proc.output().slice(-3000)}`);
  } finally {
    await s.proc.stop("SIGTERM", 5000);
  }
}

/** An idle SDK node attached to sentinel `id`, placed there by Welcome (bounded retries). */
async function placeFiller(stack, id) {
  for (let attempt = 0; attempt < 10; attempt++) {
    await new Promise((r) => setTimeout(r, 2500));
    const filler = await connectFabric({
      config: nodeConfigFromEnv({ ...stack.nodeEnv, FAME_NODE_NAME: "bench-filler" }),
      logger: createLogger({ name: "bench-filler", level: "error" }),
      installDefault: false,
    });
    if ((await attachedTo(stack, "bench-filler")).id === id) return filler;
    await filler.close();
  }
  throw new Error(`Welcome did not place an idle node on ${id} in 10 tries`);
}

/** the sentinel whose status lists the node named `name` as its own */
async function attachedTo(stack, name) {
  for (let i = 0; i < 100; i++) {
    for (const s of stack.sentinels.values()) {
      const st = await stack.status(s.id).catch(() => undefined);
      if (st?.nodes?.some((n) => n.name === name)) return s;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no sentinel lists ${name}`);
}
