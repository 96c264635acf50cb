import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

let ticksPerSec;
function clockTicks() {
  if (ticksPerSec === undefined) {
    try {
      ticksPerSec = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticksPerSec = 100;
    }
  }
  return ticksPerSec;
}

/**
 * CPU time (user + system, ms) a process has used so far, from /proc (Linux);
 * undefined when it cannot be read. Resolution is one clock tick (10 ms), fine
 * over a window of seconds.
 */
export function cpuMsOf(pid) {
  if (pid === process.pid) {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // the command name may hold spaces; fields after it start at state (field 3)
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks();
  } catch {
    return undefined;
  }
}

/** probes for closedLoop: CPU ms of each named process */
export function cpuProbes(pids) {
  const probes = {};
  for (const [name, pid] of Object.entries(pids)) if (pid) probes[name] = () => cpuMsOf(pid);
  return probes;
}
