// Background processes tracked by PID files under run/: start detached (own
// process group, output to run/<name>.log), tell whether a PID is still ours,
// stop by PID with a bound.
import { spawn } from "node:child_process";
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { ROOT, RUN_DIR } from "./topology.mjs";

export const pidFile = (name) => join(RUN_DIR, `${name}.pid`);
export const logFile = (name) => join(RUN_DIR, `${name}.log`);

/** The state letter from /proc/<pid>/stat (R, S, Z, …), or undefined without /proc. */
function procState(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  } catch {
    return undefined;
  }
}

/**
 * True while the PID names a live process. A zombie counts as gone: our
 * processes outlive the make that started them, and an init that does not
 * reap orphans leaves them as zombies after they exit.
 */
export function pidAlive(pid) {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if (err.code !== "EPERM") return false;
  }
  return procState(pid) !== "Z";
}

/** Guards against a recycled PID: the process must still run our script (where /proc can tell). */
function runsScript(pid, script) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(script);
  } catch {
    // no /proc (macOS): the PID file is all there is to go by
    return !existsSync(`/proc/${pid}`);
  }
}

export function readPid(name) {
  try {
    const text = readFileSync(pidFile(name), "utf8").trim();
    return /^\d{1,10}$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}

/** The PID of a running process of ours under this name, or undefined. */
export function runningPid(spec) {
  const pid = readPid(spec.name);
  if (pid === undefined) return undefined;
  return pidAlive(pid) && runsScript(pid, spec.script) ? pid : undefined;
}

/**
 * Starts a process detached in its own process group, output appended to
 * run/<name>.log (the previous log kept as .log.1, so readiness lines are
 * looked for in this run's output only). Returns the PID and an exit promise.
 */
export function startDetached(spec, env) {
  // Logs name nodes, paths and (at debug) channel and call ids: readable by their owner only.
  mkdirSync(RUN_DIR, { recursive: true, mode: 0o700 });
  chmodSync(RUN_DIR, 0o700);
  const log = logFile(spec.name);
  if (existsSync(log) && statSync(log).size > 0) {
    renameSync(log, `${log}.1`);
    chmodSync(`${log}.1`, 0o600);
  }
  const fd = openSync(log, "a", 0o600);
  // an empty log left by an older run keeps its mode through openSync: set it
  chmodSync(log, 0o600);
  let child;
  try {
    // a NATS server is not a Node script: its spec names the binary and its arguments
    child = spawn(spec.command ?? process.execPath, spec.args ?? [spec.script], {
      cwd: ROOT,
      env,
      detached: true,
      stdio: ["ignore", fd, fd],
    });
  } finally {
    closeSync(fd);
  }
  if (child.pid === undefined) throw new Error(`${spec.name}: could not spawn ${spec.script}`);
  writeFileSync(pidFile(spec.name), `${child.pid}\n`);
  const exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => resolve(code ?? signal));
    child.once("error", (err) => resolve(err.message));
  });
  child.unref();
  return { pid: child.pid, exited };
}

async function waitGone(pid, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!pidAlive(pid)) return true;
    await delay(100);
  }
  return !pidAlive(pid);
}

/**
 * Stops one process by PID: `signal` (SIGTERM: graceful), then SIGKILL after
 * `timeoutMs`. Removes the PID file. Returns what happened, for the message.
 */
export async function stopPid(name, pid, { signal = "SIGTERM", timeoutMs = 15_000 } = {}) {
  let outcome = signal === "SIGKILL" ? "killed" : "stopped";
  try {
    process.kill(pid, signal);
  } catch (err) {
    if (err.code !== "ESRCH") throw err;
  }
  if (!(await waitGone(pid, timeoutMs))) {
    outcome = `killed (no exit within ${Math.round(timeoutMs / 1000)} s of ${signal})`;
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone meanwhile
    }
    await waitGone(pid, 3000);
  }
  // the file may already name a successor (a restart that overtook this stop)
  if (readPid(name) === pid) rmSync(pidFile(name), { force: true });
  return outcome;
}

/** The last `n` lines of a log, for failure messages. */
export function tailLines(file, n = 20) {
  try {
    const text = readFileSync(file, "utf8");
    return text.trimEnd().split("\n").slice(-n);
  } catch {
    return [];
  }
}
