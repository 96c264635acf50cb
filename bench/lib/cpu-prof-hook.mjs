/**
 * Preloaded with `NODE_OPTIONS=--import <this file>` (node 20 refuses --cpu-prof in
 * NODE_OPTIONS, and the fabric processes are spawned by testkit without extra flags).
 * When BENCH_CPU_PROF_DIR is set, samples this process's CPU from start to exit and
 * writes a .cpuprofile there, named after BENCH_CPU_PROF_NAME.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { join } from "node:path";

const dir = process.env["BENCH_CPU_PROF_DIR"];
if (dir) {
  const name = process.env["BENCH_CPU_PROF_NAME"] || "process";
  const session = new Session();
  session.connect();
  session.post("Profiler.enable");
  // µs between samples; BENCH_CPU_PROF_INTERVAL=100 for a finer (and costlier) look
  const interval = Number(process.env["BENCH_CPU_PROF_INTERVAL"] ?? 500);
  session.post("Profiler.setSamplingInterval", {
    interval: Number.isInteger(interval) && interval >= 50 ? interval : 500,
  });
  session.post("Profiler.start");
  // the in-process inspector answers synchronously, so this completes inside 'exit'
  process.once("exit", () => {
    session.post("Profiler.stop", (err, result) => {
      if (err || !result) return;
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `${name}-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
