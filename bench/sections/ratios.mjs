/**
 * Side-by-side ratios: the bare relay, open/plaintext `add` and strict-overlay/channel `add`,
 * sequential and 64 in flight, in RATIO_ROUNDS interleaved rounds, with the relay and both
 * stacks kept up throughout. On a shared machine the speed of the box moves from one minute to
 * the next (the relay's own 64-in-flight rate has read anywhere from 60k to 190k round trips/s
 * on this VM), so a ratio of two rows measured minutes apart says as much about the box as about
 * the fabric. Here each ratio is taken within one round, rows measured back to back, and the
 * median of the rounds is reported; the limits and fabric sections keep their own rows.
 */
import { median } from "../lib/stats.mjs";
import { runClient, startBenchReplica, withStack } from "./fabric.mjs";
import { LIMIT_RUNS, startRelayPair } from "./limits.mjs";

export const RATIO_ROUNDS = 3;
/**
 * Warm-up before each ratio row, at least: at sequential rates (~2-3k calls/s) V8 keeps
 * optimizing the fabric's code for 4-5 s after the first call (--trace-opt: dozens of TurboFan
 * compilations per half second until then, a fifth of a process's CPU samples in the compiler),
 * on the same two cores the row measures. The ratios are targets for a fabric in steady state;
 * the relay, a handful of functions, gets the same warm-up.
 */
export const RATIO_WARMUP_MS = 6000;

const ADD_TASKS = [
  { name: "add_seq", kind: "add", concurrency: 1 },
  { name: "add_inflight64", kind: "add", concurrency: 64 },
];

export async function runRatios(ctx) {
  const { pki, progress } = ctx;
  const relay = await startRelayPair(pki);
  try {
    const warmupMs = Math.max(ctx.warmupMs, RATIO_WARMUP_MS);
    const windows = { warmupMs, measureMs: ctx.measureMs };
    const rowCtx = { ...ctx, warmupMs };
    const relayRun = () => relay.run(LIMIT_RUNS, 200, windows);
    progress.step("ratios: starting an open and a strict-overlay stack side by side");
    return await withStack(
      ctx,
      { securityProfile: "open", encryption: "plaintext", logLevel: "warn" },
      (openStack) =>
        withStack(ctx, { securityProfile: "strict-overlay", logLevel: "warn" }, async (strictStack) => {
          const openReplica = await startBenchReplica(openStack, "replica1");
          const strictReplica = await startBenchReplica(strictStack, "replica1");
          try {
            const rounds = [];
            for (let round = 1; round <= RATIO_ROUNDS; round++) {
              progress.step(
                `ratios: round ${round}/${RATIO_ROUNDS}: relay, open/plaintext, strict-overlay/channel`,
              );
              const r = (await relayRun()).results;
              const open = (await runClient(rowCtx, openStack, openReplica, "plaintext", ADD_TASKS)).results;
              const channel = (await runClient(rowCtx, strictStack, strictReplica, "channel", ADD_TASKS))
                .results;
              rounds.push(roundRatios(r, open, channel));
            }
            return { rounds, medians: medians(rounds), warmupMs };
          } finally {
            await openReplica.stop("SIGTERM", 5000);
            await strictReplica.stop("SIGTERM", 5000);
          }
        }),
    );
  } finally {
    await relay.stop();
  }
}

/** the ratios of one round, and the rates and p50s they came from */
function roundRatios(relay, open, channel) {
  const p50 = (r) => r.latencyMs.p50;
  return {
    relayPerSec: relay.inflight64.perSec,
    relayP50Ms: p50(relay.seq),
    openPerSec: open.add_inflight64.perSec,
    channelPerSec: channel.add_inflight64.perSec,
    openP50Ms: p50(open.add_seq),
    channelP50Ms: p50(channel.add_seq),
    openOfRelay: open.add_inflight64.perSec / relay.inflight64.perSec,
    channelOfRelay: channel.add_inflight64.perSec / relay.inflight64.perSec,
    openOfChannel: open.add_inflight64.perSec / channel.add_inflight64.perSec,
    openSeqTimesRelay: p50(open.add_seq) / p50(relay.seq),
    channelSeqTimesRelay: p50(channel.add_seq) / p50(relay.seq),
  };
}

function medians(rounds) {
  const out = {};
  for (const key of Object.keys(rounds[0] ?? {})) out[key] = median(rounds.map((r) => r[key]));
  return out;
}
