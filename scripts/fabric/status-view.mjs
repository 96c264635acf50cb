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

const list = (obj) =>
  Object.entries(obj ?? {})
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");

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
    out(`Sentinel at ${settings.urls.status}: not reachable (${problem})`);
    out("  start the fabric with make start; its log is run/sentinel.log");
    process.exitCode = 1;
    return;
  }

  const names = replicaPaths();
  const nodes = Array.isArray(status.nodes) ? status.nodes : [];
  const label = new Map();
  for (const n of nodes) {
    // a node's own name (FAME_REPLICA_NAME / FAME_NODE_NAME, self-declared) when it gave one
    const name = names.get(n.path) ?? n.name ?? (n.logicals?.length ? "(agent)" : "(client)");
    label.set(n.systemId, name);
    label.set(n.sid, name);
  }
  const nameOf = (id) => label.get(id) ?? id;

  out(
    `Sentinel ${status.sentinelId} at ${settings.urls.sentinel}: ${status.securityProfile}, ` +
      `load balancing ${status.loadBalancing}, ${status.sessions} nodes attached, ${status.inflight} requests in flight`,
  );
  out();
  out("Pools");
  const pools = status.pools?.pools ?? [];
  if (pools.length === 0) out("  (none: no agent is attached)");
  for (const p of pools) {
    out(`  ${p.address} (${p.mode}, ${p.members?.length ?? 0} members)`);
    for (const m of p.members ?? []) {
      const health = m.draining ? "draining" : m.healthy ? "healthy" : "unhealthy";
      out(
        `    ${nameOf(m.id).padEnd(20)} ${m.id.padEnd(18)} ${health.padEnd(9)} in flight ${m.inflight}, requests ${m.requests}`,
      );
    }
  }
  out();
  out("Nodes");
  for (const n of nodes) {
    const logicals = n.logicals?.length ? n.logicals.join(",") : "-";
    out(
      `  ${nameOf(n.systemId).padEnd(20)} ${String(n.path).padEnd(30)} ${logicals.padEnd(14)} in flight ${n.inflight}${n.draining ? ", draining" : ""}`,
    );
  }
  out();
  const s = status.stickiness;
  if (s) {
    const { perReplica, size, ...counters } = s;
    out(`Pins (AFT stickiness): ${size} active (a pin lives while its channel's client is attached)`);
    const per = Object.entries(perReplica ?? {});
    out(`  per replica: ${per.length ? per.map(([id, n]) => `${nameOf(id)} ${n}`).join(", ") : "none"}`);
    out(`  ${list(counters)}`);
  } else {
    out("Pins: stickiness is off");
  }
  out(`Counters: ${list(status.counters)}`);
  out();
  out(`Raw JSON: make status JSON=1   Logs: make logs R=1 (${rel(logFile(REPLICAS[0]))})`);
}
