import { fileURLToPath } from "node:url";
import { startProcess } from "../../packages/testkit/dist/index.js";
import { READY_TAG, RESULT_TAG } from "./child-io.mjs";

/** repository root and bench directory, whatever the working directory */
export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const benchScript = (rel) => fileURLToPath(new URL(`../${rel}`, import.meta.url));

/** NODE_OPTIONS that make a process write a CPU profile into `dir` when it exits */
export function cpuProfileEnv(dir, name) {
  const hook = new URL("./cpu-prof-hook.mjs", import.meta.url).href;
  return { NODE_OPTIONS: `--import=${hook}`, BENCH_CPU_PROF_DIR: dir, BENCH_CPU_PROF_NAME: name };
}

/**
 * NODE_OPTIONS that make a process note the times of its WebSocket messages (and of the
 * fabric stages in `stages`, e.g. "sdk,crypto") and write them into `dir` when it exits
 */
export function hopTraceEnv(dir, name, stages = "") {
  const hook = new URL("./hop-trace-hook.mjs", import.meta.url).href;
  return {
    NODE_OPTIONS: `--import=${hook}`,
    BENCH_HOP_TRACE_DIR: dir,
    BENCH_HOP_TRACE_NAME: name,
    BENCH_HOP_TRACE_STAGES: stages,
  };
}

/** starts a bench server child; resolves once it prints its ready line */
export function startServer(name, script, args, env = {}) {
  return startProcess({
    name,
    script: benchScript(script),
    args: [JSON.stringify(args)],
    cwd: REPO_ROOT,
    env,
    readyLine: new RegExp(READY_TAG),
    readyTimeoutMs: 30_000,
  });
}

/**
 * Runs a bench child to its end and returns the object it printed as its result.
 * Killed (by PID) if it overruns `timeoutMs`; a failure carries the child's last output.
 */
export async function runForResult(name, script, args, { env = {}, timeoutMs = 120_000 } = {}) {
  const p = await startProcess({
    name,
    script: benchScript(script),
    args: [JSON.stringify(args)],
    cwd: REPO_ROOT,
    env,
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void p.stop("SIGKILL");
  }, timeoutMs);
  const code = await p.exited;
  clearTimeout(timer);
  const out = p.output();
  const line = out.split("\n").find((l) => l.startsWith(`${RESULT_TAG} `));
  if (code !== 0 || !line) {
    const why = timedOut ? `timed out after ${timeoutMs} ms` : `exited with ${code}`;
    throw new Error(`${name} ${why}:\n${out.slice(-3000)}`);
  }
  return JSON.parse(line.slice(RESULT_TAG.length + 1));
}
