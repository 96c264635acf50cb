/**
 * Where a sequential round trip's time goes (`--only hops`; not part of a default run). The
 * bare relay, open/plaintext `add` and strict-overlay/channel `add` run sequentially once more,
 * every process preloading bench/lib/hop-trace-hook.mjs; the traces are split into legs (each
 * process's work on a message, the transport in and out, the wire between processes) and the
 * fabric's stages (bench/lib/hop-trace.mjs). Tracing costs ~0.2 µs per noted event, so these
 * round trips read a few µs above the ratio rows'.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { readTraces, roundTripLegs, stageOffsets, writeCosts } from "../lib/hop-trace.mjs";
import { hopTraceEnv } from "../lib/procs.mjs";
import { runClient, startBenchReplica, withStack } from "./fabric.mjs";
import { startRelayPair } from "./limits.mjs";
import { RATIO_WARMUP_MS } from "./ratios.mjs";

const SEQ = [{ name: "add_seq", kind: "add", concurrency: 1 }];
const FABRIC_PATH = ["client", "sentinel", "replica", "sentinel", "client"];

export async function runHops(ctx) {
  const { pki, progress, resultsDir } = ctx;
  const base = join(resultsDir, "hops");
  rmSync(base, { recursive: true, force: true });
  const warmupMs = Math.max(ctx.warmupMs, RATIO_WARMUP_MS);
  const rowCtx = { ...ctx, warmupMs };
  const out = { warmupMs };

  progress.step("hops: relay, sequential, traced");
  const relayDir = join(base, "relay");
  const relay = await startRelayPair(pki, (role) => hopTraceEnv(relayDir, role));
  try {
    const r = await relay.run([{ name: "seq", concurrency: 1 }], 200, { warmupMs, measureMs: ctx.measureMs });
    out.relayP50Ms = r.results.seq.latencyMs.p50;
  } finally {
    await relay.stop();
  }
  const relayTraces = readTraces(relayDir);
  out.relay = roundTripLegs(relayTraces, ["client", "relay", "echo", "relay", "client"]);
  if (out.relay) out.relay.writes = writesOf(relayTraces, ["client", "relay", "echo"]);

  const profiles = [
    ["open", { securityProfile: "open", encryption: "plaintext", logLevel: "warn" }, "plaintext"],
    ["channel", { securityProfile: "strict-overlay", logLevel: "warn" }, "channel"],
  ];
  for (const [key, opts, encryption] of profiles) {
    const dir = join(base, key);
    progress.step(
      `hops: ${key === "open" ? "open/plaintext" : "strict-overlay/channel"} add, sequential, traced`,
    );
    await withStack(
      ctx,
      { ...opts, sentinelEnv: hopTraceEnv(dir, "sentinel", "sentinel") },
      async (stack) => {
        const replica = await startBenchReplica(stack, "replica1", hopTraceEnv(dir, "replica", "sdk,crypto"));
        try {
          const r = await runClient(
            rowCtx,
            stack,
            replica,
            encryption,
            SEQ,
            hopTraceEnv(dir, "client", "sdk,crypto"),
          );
          out[`${key}P50Ms`] = r.results.add_seq.latencyMs.p50;
        } finally {
          await replica.stop("SIGTERM", 5000);
        }
      },
    );
    // the stack has stopped: every process wrote its trace on the way out
    const traces = readTraces(dir);
    out[key] = roundTripLegs(traces, FABRIC_PATH);
    if (out[key]) {
      out[key].stages = Object.fromEntries(
        ["client", "sentinel", "replica"].map((p) => [p, stageOffsets(traces[p])]),
      );
      out[key].writes = writesOf(traces, ["client", "sentinel", "replica"]);
    }
  }
  return out;
}

/** each process's socket-write costs (writeCosts), those with none left out */
function writesOf(traces, procs) {
  const out = {};
  for (const p of procs) {
    const w = writeCosts(traces[p]);
    if (w) out[p] = w;
  }
  return out;
}
