// The cluster's make targets (start-cluster, kill-sentinel, restart-sentinel, cluster-demo),
// and what run/status/stop need to find it. `ensureStarted` and `Failure` come from
// scripts/fabric.mjs, which owns starting one process and waiting until it is ready.
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import {
  CLUSTER_REPLICAS,
  clusterEnv,
  clusterProcesses,
  clusterSettings,
  clusterStateToSave,
  isReplica,
  SENTINELS,
} from "./cluster.mjs";
import { clusterDemo } from "./cluster-demo.mjs";
import { natsHealthy, natsServerBinary, writeNatsConfigs } from "./nats.mjs";
import { healthy, portFree, trustBundle } from "./probe.mjs";
import { logFile, runningPid, stopPid } from "./procs.mjs";
import {
  adminToken,
  clientSpec,
  processEnv,
  processes,
  RUN_DIR,
  readState,
  rel,
  stateFile,
  TRUST_BUNDLE,
} from "./topology.mjs";

const out = (line = "") => process.stdout.write(`${line}\n`);

const NATS_MISSING =
  "nats-server is not installed: on Debian/Ubuntu sudo apt-get install nats-server " +
  "(or set FAME_NATS_SERVER=/path/to/nats-server); make start (one sentinel) needs none";

/** The cluster's settings and process specs; the NATS binary is only required to start one. */
export function clusterView({ requireNats = false, useState = true } = {}) {
  const binary = natsServerBinary();
  if (requireNats && binary === undefined) return { missing: NATS_MISSING };
  const settings = clusterSettings(process.env, { useState });
  return { settings, specs: clusterProcesses(settings, binary ?? "nats-server") };
}

export function clusterCommands({ ensureStarted, Failure, requirePki }) {
  const envOf = (settings) => (spec, opts) => clusterEnv(spec, settings, processEnv, opts);
  const startOne = (spec, settings, ca) =>
    ensureStarted(spec, settings, ca, {
      // a NATS server reads everything from its config file: no FAME_* setting or credential
      env: spec.kind === "nats" ? { PATH: process.env.PATH ?? "/usr/bin:/bin" } : envOf(settings)(spec),
      ...(spec.kind === "nats" ? { ready: () => natsHealthy(spec) } : {}),
    });

  async function startCluster() {
    const view = clusterView({ requireNats: true, useState: false });
    if (view.missing) throw new Failure(view.missing);
    requirePki();
    const single = processes(view.settings.ports).find((s) => s.name === "sentinel");
    if (runningPid(single) !== undefined) {
      throw new Failure(
        "the single-sentinel fabric (make start) is running: make stop first, then make start-cluster",
      );
    }
    const anyRunning = view.specs.some((s) => runningPid(s) !== undefined);
    if (anyRunning && readState().mode !== "cluster") {
      throw new Failure("processes of make start are running: make stop first, then make start-cluster");
    }
    const { settings, specs } = anyRunning ? clusterView({ requireNats: true }) : view;
    mkdirSync(RUN_DIR, { recursive: true, mode: 0o700 });
    const busy = [];
    for (const spec of specs) {
      if (runningPid(spec) !== undefined) continue;
      for (const port of [spec.port, spec.clusterPort, spec.monitorPort]) {
        if (port !== undefined && !(await portFree(port))) busy.push(`${port} (${spec.name})`);
      }
    }
    if (busy.length > 0) {
      throw new Failure(
        `ports already in use by another process: ${busy.join(", ")}; free them or choose others ` +
          "(FAME_SENTINEL_PORTS, FAME_NATS_PORTS, FAME_NATS_CLUSTER_PORTS, FAME_NATS_MONITOR_PORTS as a,b,c)",
      );
    }
    const natsSpecs = specs.filter((s) => s.kind === "nats");
    if (!anyRunning) {
      writeFileSync(stateFile(), `${JSON.stringify(clusterStateToSave(settings), null, 2)}\n`);
      // a cluster that is down starts afresh: no pins, tickets or directory records from last time
      for (const s of natsSpecs) rmSync(s.storeDir, { recursive: true, force: true });
    }
    writeNatsConfigs(
      natsSpecs,
      natsSpecs.filter((s) => runningPid(s) === undefined),
    );
    const ca = trustBundle(TRUST_BUNDLE);
    let fresh = 0;
    const report = (spec, r) => {
      if (r.fresh) fresh++;
      out(
        `  ${r.fresh ? "started" : "running"}  ${spec.name.padEnd(20)} pid ${String(r.pid).padEnd(7)} ${rel(logFile(spec.name))}`,
      );
    };
    const began = Date.now();
    // NATS servers elect a JetStream meta leader only once a majority runs: start them together
    const group = async (list) => {
      const results = await Promise.allSettled(list.map((s) => startOne(s, settings, ca)));
      for (const [i, r] of results.entries()) if (r.status === "fulfilled") report(list[i], r.value);
      const failed = results.find((r) => r.status === "rejected");
      if (failed) throw failed.reason;
    };
    await group(natsSpecs);
    for (const name of ["oauth2", "welcome", "ca"]) {
      const spec = specs.find((s) => s.name === name);
      report(spec, await startOne(spec, settings, ca));
    }
    await group(specs.filter((s) => s.kind === "sentinel"));
    await group(specs.filter(isReplica));
    const took = `${((Date.now() - began) / 1000).toFixed(1)} s`;
    out();
    out(
      `FAME cluster ${fresh === 0 ? "was already running" : `is up (${took})`}: 3 sentinels sharing state in NATS JetStream.`,
    );
    for (const s of natsSpecs)
      out(`  ${s.name.padEnd(11)}${s.url}   (monitoring ${s.monitor}, store ${rel(s.storeDir)}/)`);
    const sentinelSpecs = specs.filter((s) => s.kind === "sentinel");
    for (const [i, s] of sentinelSpecs.entries()) out(`  ${s.name.padEnd(11)}${settings.attachUrls[i]}`);
    out(`  welcome    ${settings.urls.welcome}   places each node on a sentinel and hands it all three`);
    out(`  replicas   ${CLUSTER_REPLICAS.join(", ")} serve math@fame.fabric`);
    out("  secrets    certs/secrets/nats-token (sentinels and Welcome only), run/nats-*.conf (0600)");
    out();
    out(
      "Next: make run | make status | make cluster-demo | make kill-sentinel N=1 | make restart-sentinel N=1 | make stop",
    );
  }

  function sentinelSpec(arg) {
    if (!/^[1-9]$/.test(arg ?? "") || Number(arg) > SENTINELS.length) {
      throw new Failure(
        `say which sentinel: N=1 … N=${SENTINELS.length} (got ${arg === undefined ? "none" : `"${arg}"`})`,
      );
    }
    if (readState().mode !== "cluster") throw new Failure("no cluster is running: make start-cluster first");
    const { settings, specs } = clusterView();
    return { settings, spec: specs.find((s) => s.name === SENTINELS[Number(arg) - 1]) };
  }

  async function killSentinel(arg) {
    const { spec } = sentinelSpec(arg);
    const pid = runningPid(spec);
    if (pid === undefined)
      throw new Failure(`${spec.name} is not running (make restart-sentinel N=${arg} starts it)`);
    await stopPid(spec.name, pid, { signal: "SIGKILL", timeoutMs: 5000 });
    out(`killed ${spec.name} (pid ${pid}) with SIGKILL; its nodes re-attach to the other sentinels`);
  }

  async function restartSentinel(arg) {
    const { settings, spec } = sentinelSpec(arg);
    requirePki();
    const pid = runningPid(spec);
    if (pid !== undefined) {
      const outcome = await stopPid(spec.name, pid, { timeoutMs: settings.stopTimeoutSec * 1000 });
      out(`${outcome} ${spec.name} (pid ${pid})`);
    }
    const began = Date.now();
    const r = await startOne(spec, settings, trustBundle(TRUST_BUNDLE));
    out(
      `started ${spec.name} (pid ${r.pid}), ready after ${Date.now() - began} ms; log ${rel(logFile(spec.name))}`,
    );
  }

  async function demo() {
    if (readState().mode !== "cluster") throw new Failure("no cluster is running: make start-cluster first");
    requirePki();
    const { settings, specs } = clusterView({ requireNats: true });
    const ca = trustBundle(TRUST_BUNDLE);
    const client = clientSpec();
    if (!existsSync(client.script))
      throw new Failure(`${rel(client.script)} is missing: build first (make build)`);
    for (const spec of specs) {
      if (runningPid(spec) === undefined) {
        out(`demo | ${spec.name} is not running: starting it first`);
        await startOne(spec, settings, ca);
      }
    }
    const token = adminToken();
    const code = await clusterDemo({
      specs,
      welcomeUrl: settings.urls.welcome,
      clientEnv: processEnv(client, settings, { background: false }),
      ca,
      headers: token ? { authorization: `Bearer ${token}` } : {},
      kill: async (spec) => {
        const pid = runningPid(spec);
        if (pid !== undefined) await stopPid(spec.name, pid, { signal: "SIGKILL", timeoutMs: 5000 });
        return { pid };
      },
      restart: async (spec) => (await startOne(spec, settings, ca)).pid,
      out,
    });
    if (code !== 0) process.exitCode = code;
  }

  /** Is any sentinel of the cluster answering? (make run needs one; Welcome picks which) */
  async function requireClusterSentinel(settings) {
    const ca = trustBundle(TRUST_BUNDLE);
    for (const url of settings.sentinelUrls) if (await healthy(`${url}/health`, ca)) return;
    throw new Failure(
      `no sentinel of the cluster answers (${settings.sentinelUrls.join(", ")}): make start-cluster`,
    );
  }

  return { startCluster, killSentinel, restartSentinel, demo, requireClusterSentinel };
}
