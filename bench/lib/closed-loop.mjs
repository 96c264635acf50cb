import { nowMs, Samples } from "./stats.mjs";

/** hard cap on operations per run, so a broken timer cannot make a loop endless */
const MAX_OPS = 50_000_000;

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Closed-loop load: `concurrency` workers each call `op()` again as soon as the
 * previous call settles. Nothing is recorded during the warm-up; then, for
 * `measureMs`, every completed call counts and its latency is sampled. The
 * fixed time window is what defines the measurement, not a synchronisation.
 * `cpu` probes (name → CPU ms used so far) are read at both ends of the window,
 * giving each process's CPU time per operation: unlike rates, that hardly moves
 * when other work shares the machine.
 *
 * @param {() => Promise<unknown>} op
 * @param {{ concurrency: number, warmupMs: number, measureMs: number, cpu?: Record<string, () => number | undefined> }} opts
 */
export async function closedLoop(op, { concurrency, warmupMs, measureMs, cpu = {} }) {
  const samples = new Samples();
  let measuring = false;
  let stop = false;
  let started = 0;
  let errors = 0;
  let firstError;
  const worker = async () => {
    while (!stop && started < MAX_OPS) {
      started++;
      const t0 = nowMs();
      try {
        await op();
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
        if (errors > 1000) throw new Error(`too many failures: ${firstError}`);
        continue;
      }
      if (measuring) samples.add(nowMs() - t0);
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  const all = Promise.all(workers);
  // A worker that throws ends the run early instead of being waited on for the window.
  let failed;
  all.catch((err) => {
    failed = err;
  });
  await wait(warmupMs);
  const cpuAt = () => Object.fromEntries(Object.entries(cpu).map(([name, read]) => [name, read()]));
  const cpuStart = cpuAt();
  measuring = true;
  const t0 = nowMs();
  await wait(measureMs);
  measuring = false;
  const elapsedMs = nowMs() - t0;
  const cpuEnd = cpuAt();
  stop = true;
  await all.catch(() => {});
  if (failed) throw failed;
  const cpuUsPerOp = {};
  for (const name of Object.keys(cpu)) {
    const used = cpuEnd[name] - cpuStart[name];
    if (Number.isFinite(used) && samples.count > 0) cpuUsPerOp[name] = (used * 1000) / samples.count;
  }
  return {
    concurrency,
    ops: samples.count,
    elapsedMs,
    perSec: (samples.count * 1000) / elapsedMs,
    latencyMs: samples.summary(),
    errors,
    cpuUsPerOp,
    ...(firstError ? { firstError } : {}),
  };
}
