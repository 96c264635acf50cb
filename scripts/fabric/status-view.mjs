// `make status`: the local processes (PID files) and the sentinel's view from
// GET /fame/v1/status — pools, nodes, pins — with replica names put on node ids.
import { httpsGet, readHead } from "./probe.mjs";
import { logFile, readPid, runningPid } from "./procs.mjs";
import { adminToken, REPLICAS, rel } from "./topology.mjs";

const out = (line = "") => process.stdout.write(`${line}\n`);

/**
 * node path → replica name, from each replica's "math agent ready" line. A replica
 * logs it once, at start, and each start begins a new log: the head is enough.
 */
function replicaPaths() {
  const byPath = new Map();
  for (const name of REPLICAS) {
    for (const line of readHead(logFile(name), 1024 * 1024).split("\n")) {
      if (!line.includes('"msg":"math agent ready"')) continue;
      try {
        const rec = JSON.parse(line);
        if (typeof rec.path === "string") byPath.set(rec.path, name);
      } catch {
        // a torn line: skip
      }
    }
  }
  return byPath;
}

export async function printStatus({ settings, specs, ca, json }) {
  const token = adminToken();
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  let status;
  let problem;
  try {
    const res = await httpsGet(settings.urls.status, ca, { timeoutMs: 3000, headers });
    if (res.status !== 200) problem = `answered HTTP ${res.status}`;
    else status = JSON.parse(res.body);
  } catch (err) {
    problem = err.message;
  }
  if (json) {
    if (status === undefined) throw new Error(`sentinel status unavailable: ${problem}`);
    out(JSON.stringify(status, null, 2));
    return;
  }

  out("Processes (PID files and logs in run/)");
  for (const spec of specs) {
    const pid = runningPid(spec);
    const where = spec.url ?? "math@fame.fabric";
    const state =
      pid !== undefined
        ? `up    pid ${String(pid).padEnd(7)}`
        : readPid(spec.name)
          ? "dead  (stale PID file)"
          : "down";
    out(`  ${spec.name.padEnd(20)} ${state.padEnd(22)} ${where}`);
  }
  out();
  if (status === undefined) {
    if (/larger than/.test(String(problem))) {
      out(
        `Sentinel at ${settings.urls.status}: answered, but its status page is too large to show (${problem})`,
      );
      out("  make dashboard shows the pools; GET /metrics the counters");
    } else {
      out(`Sentinel at ${settings.urls.status}: not reachable (${problem})`);
      out("  start the fabric with make start; its log is run/sentinel.log");
    }
    process.exitCode = 1;
    return;
  }

  // the replicas' names from their logs where the nodes gave none, then the same view as
  // `fame status` (built by make start: loaded only here, so the other commands need no build)
  const { renderStatus } = await import("../../packages/cli/dist/commands/sentinel.js");
  const names = replicaPaths();
  const nodes = Array.isArray(status.nodes) ? status.nodes : [];
  for (const n of nodes) n.name = names.get(n.path) ?? n.name;
  out(renderStatus(status, settings.urls.sentinel));
  out();
  out(`Raw JSON: make status JSON=1   Logs: make logs R=1 (${rel(logFile(REPLICAS[0]))})`);
}
