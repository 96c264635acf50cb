// make status against a cluster: the processes, every NATS server (routes, connections,
// JetStream meta leader), every sentinel (its state, the nodes attached to it).
import { natsInfo } from "./nats.mjs";
import { httpsGet } from "./probe.mjs";
import { readPid, runningPid } from "./procs.mjs";
import { adminToken } from "./topology.mjs";

const out = (line = "") => process.stdout.write(`${line}\n`);

async function sentinelStatus(spec, ca, headers) {
  try {
    const res = await httpsGet(spec.status, ca, { timeoutMs: 3000, headers });
    if (res.status !== 200) return { problem: `answered HTTP ${res.status}` };
    return { status: JSON.parse(res.body) };
  } catch (err) {
    return { problem: err.message };
  }
}

/** Welcome's /health in a cluster: how many live sentinels its registry shows, and its state */
async function welcomeHealth(spec, ca) {
  try {
    const res = await httpsGet(spec.health, ca, { timeoutMs: 3000 });
    return res.status === 200 ? JSON.parse(res.body) : undefined;
  } catch {
    return undefined;
  }
}

/** "1 node", "2 nodes" */
const count = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** A node's label: its self-declared name, else agent/client by whether it serves anything. */
const labelOf = (n) => n.name ?? (n.logicals?.length ? "(agent)" : "(client)");

export async function printClusterStatus({ specs, ca, json }) {
  const token = adminToken();
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  const sentinels = specs.filter((s) => s.kind === "sentinel");
  const natsNodes = specs.filter((s) => s.kind === "nats");
  const welcome = specs.find((s) => s.name === "welcome");
  const [views, nats, placement] = await Promise.all([
    Promise.all(sentinels.map((s) => sentinelStatus(s, ca, headers))),
    Promise.all(natsNodes.map((n) => natsInfo(n))),
    welcomeHealth(welcome, ca),
  ]);
  if (json) {
    const bySentinel = Object.fromEntries(
      sentinels.map((s, i) => [s.name, views[i].status ?? { problem: views[i].problem }]),
    );
    out(JSON.stringify({ nats, welcome: placement, sentinels: bySentinel }, null, 2));
    return;
  }
  out("Processes (PID files and logs in run/)");
  for (const spec of specs) {
    const pid = runningPid(spec);
    const state =
      pid !== undefined
        ? `up    pid ${String(pid).padEnd(7)}`
        : readPid(spec.name)
          ? "dead  (stale PID file)"
          : "down";
    out(`  ${spec.name.padEnd(20)} ${state.padEnd(22)} ${spec.url ?? "math@fame.fabric"}`);
  }
  out();
  out("NATS JetStream cluster");
  // what an operator should look at: the exit code says whether anything is
  const degraded = [];
  const answering = new Set(nats.filter((n) => n.up).map((n) => n.name));
  for (const n of nats) {
    if (!n.up) {
      out(`  ${n.name.padEnd(8)} ${n.url.padEnd(24)} not answering`);
      degraded.push(`${n.name} not answering`);
      continue;
    }
    if (!n.healthy) degraded.push(`${n.name} not ready`);
    // a server cut off from the others may still name a leader that is gone
    const gone = n.metaLeader !== undefined && !answering.has(n.metaLeader) ? " (not answering)" : "";
    const role = n.metaLeader === n.name ? "meta leader" : `meta leader ${n.metaLeader ?? "none yet"}${gone}`;
    out(
      `  ${n.name.padEnd(8)} ${n.url.padEnd(24)} ${n.healthy ? "healthy" : "not ready"}, ${n.routes ?? 0} routes, ` +
        `${n.connections ?? 0} clients, ${n.streams ?? 0} streams, ${role}`,
    );
  }
  out();
  out(
    placement
      ? `Welcome places nodes on ${placement.sentinels ?? "?"} live sentinels (registry state ${placement.state ?? "?"})`
      : "Welcome: not reachable",
  );
  out();
  out("Sentinels (nodes attached to each)");
  let reachable = 0;
  sentinels.forEach((s, i) => {
    const { status, problem } = views[i];
    if (!status) {
      out(`  ${s.name.padEnd(12)} ${s.url.padEnd(24)} not reachable (${problem})`);
      degraded.push(`${s.name} not reachable`);
      return;
    }
    reachable++;
    if (status.state?.status !== undefined && status.state.status !== "ok")
      degraded.push(`${s.name} state ${status.state.status}`);
    const local = (Array.isArray(status.nodes) ? status.nodes : []).filter(
      (n) => n.sentinelId === undefined || n.sentinelId === status.sentinelId,
    );
    const state = status.state ? `, state ${status.state.status ?? JSON.stringify(status.state)}` : "";
    out(
      `  ${s.name.padEnd(12)} ${s.url.padEnd(24)} ${count(local.length, "node")}, ${count(status.sessions ?? 0, "session")}, ` +
        `${status.inflight ?? 0} in flight${state}${linksOf(status)}`,
    );
    for (const n of local) {
      out(
        `    ${labelOf(n).padEnd(22)} ${String(n.path).padEnd(36)} ${n.logicals?.length ? n.logicals.join(",") : "-"}`,
      );
    }
  });
  out();
  out(degraded.length === 0 ? "Cluster: healthy" : `Cluster: DEGRADED (${degraded.join("; ")})`);
  out("Raw JSON: make status JSON=1   Faults: make kill-sentinel N=1, make restart-sentinel N=1");
  // 0: all answer and share their state; 1: something to look at (the lines above say what)
  if (reachable === 0 || degraded.length > 0) process.exitCode = 1;
}

/** ", links to a, b" (direct sentinel links open), or how it reaches the others otherwise */
function linksOf(status) {
  const links = status.cluster?.links;
  if (!links) return status.cluster ? ", peers over NATS" : "";
  const linked = Array.isArray(links.linked) ? [...links.linked].sort() : [];
  return linked.length > 0 ? `, direct links to ${linked.join(", ")}` : ", no direct link open (NATS)";
}
