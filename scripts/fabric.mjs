#!/usr/bin/env node
// The local demo fabric's supervisor, called by make:
//   node scripts/fabric.mjs start|stop|run [--verbose]|status [--json]|logs [NAME] [--no-follow]
//                           |kill-replica N|restart-replica N|failover-demo [--seconds S]|dashboard
//                           |start-cluster|kill-sentinel N|restart-sentinel N|cluster-demo (scripts/fabric/cluster*.mjs)
// Processes run detached with PID files and logs under run/ (see scripts/fabric/).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { clusterRecorded, everyProcess, isReplica as isClusterReplica } from "./fabric/cluster.mjs";
import { clusterCommands, clusterView } from "./fabric/cluster-commands.mjs";
import { printClusterStatus } from "./fabric/cluster-status.mjs";
import { failoverDemo } from "./fabric/failover-demo.mjs";
import { followLogs, formatLine } from "./fabric/log-view.mjs";
import { healthy, logHas, portFree, trustBundle, waitFor } from "./fabric/probe.mjs";
import {
  logFile,
  pidAlive,
  pidFile,
  runningPid,
  startDetached,
  stopPid,
  tailLines,
} from "./fabric/procs.mjs";
import { printStatus } from "./fabric/status-view.mjs";
import {
  ADMIN_TOKEN_FILE,
  adminToken,
  changedSettings,
  clientSpec,
  fabricSettings,
  foreignSentinelUrl,
  PORTS,
  processEnv,
  processes,
  REPLICAS,
  ROOT,
  RUN_DIR,
  readState,
  rel,
  restartEnv,
  SettingError,
  stateFile,
  stateToSave,
  TRUST_BUNDLE,
} from "./fabric/topology.mjs";

const out = (line = "") => process.stdout.write(`${line}\n`);

class Failure extends Error {}

/**
 * A shell set up with another checkout's `fame env` does not steer this fabric's processes
 * (they take who they are and where the fabric is from this checkout), but its user should know
 * that nodes of their own started from it join the other fabric.
 */
function noteForeignShell(settings) {
  const url = foreignSentinelUrl(settings);
  if (url === undefined) return;
  process.stderr.write(
    `note: this shell's FAME_SENTINEL_URL (${url}) names another fabric; make's processes join this ` +
      `checkout's (${settings.urls.attach}) with its own credentials. For nodes of your own: ` +
      'eval "$(pnpm -s fame env)" in this checkout\n',
  );
}

function requireBuilt(spec) {
  if (!existsSync(spec.script)) {
    throw new Failure(`${rel(spec.script)} is missing: build first (make build)`);
  }
}

function requirePki() {
  if (!existsSync(TRUST_BUNDLE)) {
    throw new Failure(`${rel(TRUST_BUNDLE)} is missing: generate the dev PKI first (make pki)`);
  }
}

/**
 * Starts one process unless it already runs, then waits until it is ready. A cluster's
 * processes bring their own environment and, for NATS, their own readiness check.
 */
async function ensureStarted(spec, settings, ca, { env, ready: readyCheck } = {}) {
  const existing = runningPid(spec);
  let exited;
  let pid = existing;
  if (existing === undefined) {
    requireBuilt(spec);
    const started = startDetached(spec, env ?? processEnv(spec, settings));
    pid = started.pid;
    exited = started.exited;
  }
  let exitCode;
  void exited?.then((code) => {
    exitCode = code;
  });
  const ready = readyCheck
    ? readyCheck
    : spec.health
      ? () => healthy(spec.health, ca)
      : async () => logHas(logFile(spec.name), spec.readyLine);
  const result = await waitFor(ready, {
    timeoutMs: settings.startTimeoutSec * 1000,
    failed: async () => {
      if (exitCode !== undefined) return `exited with code ${exitCode}`;
      return pidAlive(pid) ? undefined : "it is no longer running";
    },
  });
  if (!result.ok) {
    const lines = tailLines(logFile(spec.name), 15)
      .map((l) => `    ${l}`)
      .join("\n");
    throw new Failure(
      `${spec.name} (pid ${pid}) did not become healthy: ${result.reason}.\n` +
        `  log: ${rel(logFile(spec.name))}${lines ? `\n  last lines:\n${lines}` : ""}\n` +
        `  fix it and run the same make target again (the other processes stay up; ${spec.name} is not running), or make stop`,
    );
  }
  return { pid, fresh: existing === undefined };
}

/**
 * ensureStarted for a process (re)started into a running fabric: with the FAME_* and OTEL_*
 * variables the fabric was started with (run/fabric.json), then this shell's.
 */
function ensureStartedAsRecorded(spec, settings, ca) {
  return ensureStarted(spec, settings, ca, { env: processEnv(spec, settings, { env: restartEnv() }) });
}

async function start() {
  if (clusterRecorded() && everyProcess(clusterView().settings, "nats-server").some((s) => runningPid(s))) {
    throw new Failure("a cluster is running (make start-cluster): make stop first, then make start");
  }
  // which processes run does not depend on ports (PID files are per name)
  const anyRunning = processes(fabricSettings().ports).some((s) => runningPid(s) !== undefined);
  // a fabric that is down starts afresh: what it last ran with (run/fabric.json) no longer counts
  const settings = fabricSettings(process.env, { useState: anyRunning });
  noteForeignShell(settings);
  requirePki();
  const ca = trustBundle(TRUST_BUNDLE);
  mkdirSync(RUN_DIR, { recursive: true, mode: 0o700 });
  const specs = processes(settings.ports);
  if (anyRunning) {
    const { settings: running = {} } = readState();
    const moved = PORTS.filter((p) => running[p.env] && running[p.env] !== String(settings.ports[p.key]));
    if (moved.length > 0) {
      const was = moved.map((p) => `${p.env}=${running[p.env]}`).join(" ");
      throw new Failure(`the fabric is already running with ${was}: make stop first to change ports`);
    }
  } else {
    writeFileSync(stateFile(), `${JSON.stringify(stateToSave(settings), null, 2)}\n`, { mode: 0o600 });
  }
  // refuse before starting anything rather than leave half a fabric behind
  const busy = [];
  for (const spec of specs) {
    if (spec.port !== undefined && runningPid(spec) === undefined && !(await portFree(spec.port))) {
      busy.push(`${spec.port} (${spec.name}, ${PORTS.find((p) => p.key === spec.name)?.env})`);
    }
  }
  if (busy.length > 0) {
    throw new Failure(
      `port${busy.length > 1 ? "s" : ""} already in use by another process: ${busy.join(", ")}; ` +
        "free them or choose other ports (e.g. FAME_SENTINEL_PORT=9000 make start)",
    );
  }
  // a process (re)started into a running fabric gets what the fabric was started with (its
  // FAME_* and OTEL_* variables), as make restart-replica does, whatever this shell lacks
  const changed = anyRunning ? changedSettings() : [];
  const startOne = (spec) =>
    anyRunning ? ensureStartedAsRecorded(spec, settings, ca) : ensureStarted(spec, settings, ca);
  let freshCount = 0;
  const report = (spec, r) => {
    if (r.fresh) freshCount++;
    const state = r.fresh ? "started" : "running";
    out(`  ${state}  ${spec.name.padEnd(20)} pid ${String(r.pid).padEnd(7)} ${rel(logFile(spec.name))}`);
  };
  const began = Date.now();
  const replicas = specs.filter((s) => REPLICAS.includes(s.name));
  for (const spec of specs.filter((s) => !replicas.includes(s))) report(spec, await startOne(spec));
  // replicas only depend on the services above, not on each other
  const results = await Promise.allSettled(replicas.map(startOne));
  results.forEach((r, i) => {
    if (r.status === "fulfilled") report(replicas[i], r.value);
  });
  const failed = results.find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
  const u = settings.urls;
  out();
  const took = `${((Date.now() - began) / 1000).toFixed(1)} s`;
  out(
    `FAME fabric ${freshCount === 0 ? "was already running" : `is up (${took})`}: ` +
      "strict-overlay, welcome admission,",
  );
  out("channel encryption, TLS with the dev PKI in certs/.");
  out(`  oauth2     ${u.oauth2}   (POST /oauth/token)`);
  out(`  welcome    ${u.welcome}   (POST /fame/v1/welcome/hello)`);
  out(`  ca         ${u.ca}   (POST /fame/v1/ca/sign)`);
  out(`  sentinel   ${u.attach}`);
  out(`             ${u.status}   (make status)`);
  out(`  dashboard  ${u.sentinel}/dashboard   (make dashboard: the link with the admin token)`);
  out(`  replicas   ${REPLICAS.join(", ")} serve math@fame.fabric`);
  out(`  trust      ${rel(TRUST_BUNDLE)}   logs and PID files in ${rel(RUN_DIR)}/`);
  if (changed.length > 0) {
    const them = changed.length === 1 ? "it" : "them";
    out();
    out(
      `note: the fabric was already running, not with this shell's ${changed.join(", ")}; ` +
        (freshCount === 0
          ? `nothing was restarted, so no process has ${them}.`
          : `only the processes started now have ${them}.`),
    );
    out(`      To run every process with ${them}: make stop, then make start again with ${them} set.`);
  }
  out();
  out("Next: make run | make run-verbose | make status | make logs R=1 | make kill-replica R=1");
  out("      make restart-replica R=1 | make failover-demo | make dashboard | make stop");
}

async function stop() {
  // either fabric's processes, whichever have PID files: replicas, sentinels, services, NATS
  const settings = clusterRecorded() ? clusterView().settings : fabricSettings();
  const specs = everyProcess(settings, "nats-server");
  const timeoutMs = settings.stopTimeoutSec * 1000;
  let stopped = 0;
  const stopOne = async (spec) => {
    const pid = runningPid(spec);
    if (pid === undefined) {
      if (existsSync(pidFile(spec.name))) {
        rmSync(pidFile(spec.name), { force: true });
        out(`  ${spec.name}: not running (removed stale ${rel(pidFile(spec.name))})`);
      }
      return;
    }
    const outcome = await stopPid(spec.name, pid, { timeoutMs });
    stopped++;
    out(`  ${outcome.padEnd(8)} ${spec.name.padEnd(20)} pid ${pid}`);
  };
  // replicas drain in parallel; the services after them, in reverse start order
  await Promise.all(specs.filter(isClusterReplica).map(stopOne));
  for (const spec of specs.filter((s) => !isClusterReplica(s))) await stopOne(spec);
  rmSync(stateFile(), { force: true });
  out(stopped === 0 ? "nothing running" : `stopped ${stopped} process${stopped === 1 ? "" : "es"}`);
}

function replicaSpec(arg, settings) {
  if (!/^[1-9]$/.test(arg ?? "") || Number(arg) > REPLICAS.length) {
    throw new Failure(
      `say which replica: R=1 … R=${REPLICAS.length} (got ${arg === undefined ? "none" : `"${arg}"`})`,
    );
  }
  return processes(settings.ports).find((s) => s.name === REPLICAS[Number(arg) - 1]);
}

async function killReplica(arg) {
  const spec = replicaSpec(arg, fabricSettings());
  const pid = runningPid(spec);
  if (pid === undefined)
    throw new Failure(`${spec.name} is not running (make restart-replica R=${arg} starts it)`);
  await stopPid(spec.name, pid, { signal: "SIGKILL", timeoutMs: 5000 });
  out(`killed ${spec.name} (pid ${pid}) with SIGKILL`);
}

async function restartReplica(arg) {
  const settings = fabricSettings();
  noteForeignShell(settings);
  const spec = replicaSpec(arg, settings);
  requirePki();
  const pid = runningPid(spec);
  if (pid !== undefined) {
    const outcome = await stopPid(spec.name, pid, { timeoutMs: settings.stopTimeoutSec * 1000 });
    out(`${outcome} ${spec.name} (pid ${pid})`);
  }
  const began = Date.now();
  // as make start ran it (its FAME_* and OTEL_* variables), whatever this shell has
  const r = await ensureStartedAsRecorded(spec, settings, trustBundle(TRUST_BUNDLE));
  out(
    `started ${spec.name} (pid ${r.pid}), ready after ${Date.now() - began} ms; log ${rel(logFile(spec.name))}`,
  );
}

/** Fails early, and plainly, when there is no sentinel to talk to. */
async function requireSentinel(settings) {
  noteForeignShell(settings);
  if (!(await healthy(`${settings.urls.sentinel}/health`, trustBundle(TRUST_BUNDLE)))) {
    throw new Failure(
      `no sentinel answers at ${settings.urls.sentinel}: start the fabric first (make start)`,
    );
  }
}

async function runClient(verbose) {
  const cluster = clusterRecorded();
  const settings = cluster ? clusterView().settings : fabricSettings();
  requirePki();
  const spec = clientSpec();
  requireBuilt(spec);
  if (cluster) await clusterCmds.requireClusterSentinel(settings);
  else await requireSentinel(settings);
  // as the fabric was started (its OTEL_* settings: the client's calls are traced when the
  // fabric's processes export), then this shell's
  const env = processEnv(spec, settings, { background: false, env: cluster ? process.env : restartEnv() });
  if (verbose) {
    env.FAME_SHOW_ENVELOPES = "true";
    env.FAME_LOG_LEVEL = process.env.FAME_LOG_LEVEL || "info";
  } else {
    // results only; warnings and errors still show
    env.FAME_LOG_LEVEL = process.env.FAME_LOG_LEVEL || "warn";
  }
  // verbose: JSON log lines in, one readable line per envelope out (RAW=1: as logged)
  const formatted = verbose && process.env.RAW !== "1";
  if (formatted) env.FAME_LOG_PRETTY = "0";
  const child = spawn(process.execPath, [spec.script], {
    cwd: ROOT,
    env,
    stdio: ["ignore", formatted ? "pipe" : "inherit", "inherit"],
  });
  if (formatted) createInterface({ input: child.stdout }).on("line", (l) => out(formatLine(l)));
  const code = await new Promise((resolve) => {
    child.once("exit", (c, signal) => resolve(c ?? (signal ? 1 : 0)));
    child.once("error", () => resolve(1));
  });
  if (code !== 0) throw new Failure(`the client failed (exit code ${code})`);
}

async function status(json) {
  if (clusterRecorded()) {
    await printClusterStatus({ specs: clusterView().specs, ca: trustBundle(TRUST_BUNDLE), json });
    return;
  }
  const settings = fabricSettings();
  await printStatus({ settings, specs: processes(settings.ports), ca: trustBundle(TRUST_BUNDLE), json });
}

/**
 * The dashboard link with the admin token in its fragment (#token=…): browsers never send a
 * fragment to the server, and the page moves it into sessionStorage and out of the address bar.
 * Opened with xdg-open when there is a display to open it on.
 */
async function dashboard() {
  const settings = fabricSettings();
  await requireSentinel(settings);
  const token = adminToken();
  if (token === undefined) {
    throw new Failure(
      `no admin token (FAME_SENTINEL_ADMIN_TOKEN or ${rel(ADMIN_TOKEN_FILE)}): run make pki, then make start`,
    );
  }
  const url = `${settings.urls.sentinel}/dashboard#token=${encodeURIComponent(token)}`;
  out(url);
  out(
    `  (the link holds the admin token: do not share it; ${settings.urls.sentinel}/dashboard without it asks for the token)`,
  );
  out(
    `  your browser does not know the dev CA: trust ${rel(TRUST_BUNDLE)} as an authority, or accept its warning for 127.0.0.1`,
  );
  const display = process.env.DISPLAY || process.env.WAYLAND_DISPLAY;
  const opener = display ? spawnSync("which", ["xdg-open"], { encoding: "utf8" }).stdout.trim() : "";
  if (opener) {
    const child = spawn(opener, [url], { detached: true, stdio: "ignore" });
    child.on("error", () => out("  (xdg-open failed: open the link yourself)"));
    child.unref();
    out("  opened in your browser");
  }
}

async function logs(args) {
  const names = clusterRecorded()
    ? clusterView().specs.map((s) => s.name)
    : processes(fabricSettings().ports).map((s) => s.name);
  const follow = !args.includes("--no-follow");
  const which = args.find((a) => !a.startsWith("--"));
  let chosen = names;
  if (which !== undefined && which !== "") {
    const replicas = names.filter((n) => n.startsWith("math-agent-replica"));
    const byReplica = /^[1-9]$/.test(which) ? replicas[Number(which) - 1] : undefined;
    const name = byReplica ?? names.find((n) => n === which || n === `math-agent-${which}`);
    if (!name) {
      const rs = replicas.map((_, i) => i + 1).join("|");
      throw new Failure(`no process "${which}": R=${rs || "(no replica)"}, or S= one of ${names.join(", ")}`);
    }
    chosen = [name];
  }
  if (!existsSync(RUN_DIR)) throw new Failure("no logs yet: start the fabric first (make start)");
  await followLogs(
    chosen.map((n) => ({ name: n, file: logFile(n) })),
    { follow, raw: process.env.RAW === "1" },
  );
}

async function demo(args) {
  const settings = fabricSettings();
  requirePki();
  const i = args.indexOf("--seconds");
  const seconds = i >= 0 ? Number(args[i + 1]) : 10;
  if (!Number.isInteger(seconds) || seconds < 4 || seconds > 300) {
    throw new Failure("--seconds must be a whole number from 4 to 300");
  }
  const spec = clientSpec();
  requireBuilt(spec);
  await requireSentinel(settings);
  const ca = trustBundle(TRUST_BUNDLE);
  const replicas = processes(settings.ports).filter((s) => REPLICAS.includes(s.name));
  for (const r of replicas) {
    if (runningPid(r) === undefined) {
      out(`demo | ${r.name} is not running: starting it first`);
      await ensureStartedAsRecorded(r, settings, ca);
    }
  }
  const code = await failoverDemo({
    seconds,
    clientSpec: spec,
    clientEnv: {
      ...processEnv(spec, settings, { background: false, env: restartEnv() }),
      FAME_LOG_LEVEL: "warn",
    },
    replicas,
    kill: (r) => {
      const pid = runningPid(r);
      if (pid === undefined) return { pid, gone: Promise.resolve() };
      return { pid, gone: stopPid(r.name, pid, { signal: "SIGKILL", timeoutMs: 5000 }) };
    },
    restart: async (r) => (await ensureStartedAsRecorded(r, settings, ca)).pid,
    out,
  });
  if (code !== 0) throw new Failure("the failover demo did not complete (see above)");
}

const USAGE =
  "usage: node scripts/fabric.mjs start | stop | run [--verbose] | status [--json] | logs [1|2|NAME] [--no-follow]\n" +
  "                               | kill-replica N | restart-replica N | failover-demo [--seconds S] | dashboard\n" +
  "                               | start-cluster | kill-sentinel N | restart-sentinel N | cluster-demo";

const clusterCmds = clusterCommands({ ensureStarted, Failure, requirePki });

async function main(argv) {
  const [command, ...args] = argv;
  switch (command) {
    case "start":
      return start();
    case "stop":
      return stop();
    case "run":
      return runClient(args.includes("--verbose"));
    case "status":
      return status(args.includes("--json"));
    case "logs":
      return logs(args);
    case "kill-replica":
      return killReplica(args[0]);
    case "restart-replica":
      return restartReplica(args[0]);
    case "failover-demo":
      return demo(args);
    case "dashboard":
      return dashboard();
    case "start-cluster":
      return clusterCmds.startCluster();
    case "kill-sentinel":
      return clusterCmds.killSentinel(args[0]);
    case "restart-sentinel":
      return clusterCmds.restartSentinel(args[0]);
    case "cluster-demo":
      return clusterCmds.demo();
    default:
      throw new Failure(USAGE);
  }
}

// `make logs | head` closes the pipe early: that is the reader's choice, not an error
process.stdout.on("error", (err) => process.exit(err.code === "EPIPE" ? 0 : 1));

main(process.argv.slice(2)).then(
  () => process.exit(process.exitCode ?? 0),
  (err) => {
    const known = err instanceof Failure || err instanceof SettingError;
    process.stderr.write(`fabric: ${known ? err.message : (err?.stack ?? String(err))}\n`);
    process.exit(1);
  },
);
