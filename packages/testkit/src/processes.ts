import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { requestRaw } from "@fame/http-service/client";

export interface ProcessSpec {
  /** label used in errors and captured output */
  name: string;
  /** script run with the current node binary */
  script: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** ready when GET of this URL answers 2xx (polled, bounded by readyTimeoutMs) */
  readyUrl?: string;
  /** ready when a line of stdout/stderr matches */
  readyLine?: RegExp;
  /** trust bundle PEM for readyUrl over https */
  ca?: string;
  readyTimeoutMs?: number;
}

export interface RunningProcess {
  name: string;
  pid: number;
  child: ChildProcess;
  /** everything printed so far (stdout + stderr interleaved) */
  output(): string;
  /** resolves with the exit code (or signal name) once the process has ended */
  exited: Promise<number | string>;
  /** sends a signal and waits (bounded) for the exit; SIGKILL if it does not come */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | string>;
  /** waits until the output matches, bounded */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

const live = new Map<number, RunningProcess>();

/** Kills every process this module started that is still alive (by PID). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live.values()].map((p) => p.stop("SIGTERM", 5000)));
}

process.once("exit", () => {
  for (const pid of live.keys()) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
});

export async function startProcess(spec: ProcessSpec): Promise<RunningProcess> {
  const child = spawn(process.execPath, [spec.script, ...(spec.args ?? [])], {
    cwd: spec.cwd,
    env: { ...process.env, FAME_LOG_PRETTY: "0", ...spec.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (child.pid === undefined) throw new Error(`${spec.name}: spawn failed`);
  const pid = child.pid;
  let out = "";
  const waiters = new Set<() => void>();
  const onData = (b: Buffer) => {
    out += b.toString("utf8");
    // keep memory bounded in long tests
    if (out.length > 4_000_000) out = out.slice(-2_000_000);
    for (const w of waiters) w();
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  let ended = false;
  // "close", not "exit": it comes once the output pipes are drained too, so output()
  // is complete when `exited` resolves. `ended` is set before the waiters run, so a
  // waiter sees the end at once instead of only at its timeout.
  const exited = once(child, "close").then(([code, signal]) => {
    ended = true;
    live.delete(pid);
    for (const w of waiters) w();
    return (code as number | null) ?? (signal as string);
  });

  const waitForOutput = (pattern: RegExp, timeoutMs = 15_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (pattern.test(out)) {
          cleanup();
          resolve();
        } else if (ended) {
          cleanup();
          reject(new Error(`${spec.name} exited before printing ${pattern}:\n${out.slice(-3000)}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${spec.name}: no ${pattern} within ${timeoutMs} ms:\n${out.slice(-3000)}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });

  const handle: RunningProcess = {
    name: spec.name,
    pid,
    child,
    output: () => out,
    exited,
    waitForOutput,
    async stop(signal = "SIGTERM", timeoutMs = 5000) {
      if (ended) return exited;
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
  live.set(pid, handle);

  try {
    if (spec.readyLine) await waitForOutput(spec.readyLine, spec.readyTimeoutMs);
    if (spec.readyUrl)
      await waitForUrl(
        spec.readyUrl,
        spec.ca,
        spec.readyTimeoutMs ?? 15_000,
        () => ended,
        spec.name,
        () => out,
      );
  } catch (err) {
    await handle.stop("SIGKILL");
    throw err;
  }
  return handle;
}

async function waitForUrl(
  url: string,
  ca: string | undefined,
  timeoutMs: number,
  hasEnded: () => boolean,
  name: string,
  output: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  // Polling is the only readiness signal an HTTP server gives; each try is bounded.
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    if (hasEnded()) throw new Error(`${name} exited before becoming ready:\n${output().slice(-3000)}`);
    try {
      const res = await requestRaw(url, { ca, timeoutMs: 1000 });
      if (res.status >= 200 && res.status < 300) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, Math.min(50 * (attempt + 1), 250)));
  }
  throw new Error(`${name}: ${url} not ready within ${timeoutMs} ms (${last}):\n${output().slice(-3000)}`);
}

/** True while a process with this PID exists (signal 0 probes without killing). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
