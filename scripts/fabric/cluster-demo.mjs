// make cluster-demo: a client calls math@fame.fabric in a loop (cluster-demo-client.mjs) while
// the sentinel it is attached to is SIGKILLed, then the sentinel its pinned replica is attached
// to, then one NATS server (the JetStream meta leader); each is restarted once calls flow again.
// Ends with exactly one line: cluster-demo: calls=N failures=N max_gap_ms=N.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { natsInfo } from "./nats.mjs";
import { httpsGet, waitFor } from "./probe.mjs";
import { ROOT } from "./topology.mjs";

export const DEMO_CLIENT_NAME = "cluster-demo-client";
/** successful calls to see after each fault before the next step */
const STEADY_CALLS = 10;
const PHASE_TIMEOUT_MS = 60_000;
/** failed calls in a row that end a step early: the fabric is not recovering by itself */
const MAX_FAILURES_IN_A_ROW = 25;

/** Summary numbers from the client's call lines: successes' completion times give the gaps. */
export function summarize(calls) {
  let failures = 0;
  let maxGap = 0;
  let last;
  for (const c of calls) {
    if (!c.ok) {
      failures++;
      continue;
    }
    if (last !== undefined) maxGap = Math.max(maxGap, c.t - last);
    last = c.t;
  }
  return { calls: calls.length, failures, maxGapMs: maxGap };
}

export const summaryLine = (s) =>
  `cluster-demo: calls=${s.calls} failures=${s.failures} max_gap_ms=${Math.round(s.maxGapMs)}`;

/**
 * Which sentinel each named node is attached to: name → sentinel process name, from every
 * sentinel's /fame/v1/status (its own sessions: a node listed with another sentinelId is not
 * attached there).
 */
export async function attachments(sentinels, ca, headers) {
  const where = new Map();
  await Promise.all(
    sentinels.map(async (s) => {
      try {
        const res = await httpsGet(s.status, ca, { timeoutMs: 2000, headers });
        if (res.status !== 200) return;
        const status = JSON.parse(res.body);
        for (const n of Array.isArray(status.nodes) ? status.nodes : []) {
          if (n.sentinelId !== undefined && n.sentinelId !== status.sentinelId) continue;
          if (typeof n.name === "string") where.set(n.name, s);
        }
      } catch {
        // a dead sentinel holds nobody
      }
    }),
  );
  return where;
}

async function healthOf(url, ca) {
  try {
    const res = await httpsGet(url, ca, { timeoutMs: 2000 });
    return res.status === 200 ? JSON.parse(res.body) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The cluster is whole: every sentinel's shared state is ok and Welcome sees them all live
 * (after a NATS server restarts, sentinels may need a few seconds to advertise again).
 */
export async function clusterWhole({ sentinels, welcomeUrl, ca }) {
  const welcome = await healthOf(`${welcomeUrl}/health`, ca);
  if (welcome?.state !== "ok" || welcome.sentinels !== sentinels.length) return false;
  const states = await Promise.all(sentinels.map((s) => healthOf(s.health, ca)));
  return states.every((h) => h?.state?.status === "ok");
}

/**
 * Runs the demo; resolves the exit code (0 only when every step ran and no call failed).
 * `kill(spec)` SIGKILLs by PID and resolves { pid } once it is gone; `restart(spec)` resolves
 * the new PID once the process is ready.
 */
export async function clusterDemo({ specs, welcomeUrl, clientEnv, ca, headers, kill, restart, out }) {
  const t0 = Date.now();
  const say = (line) => out(`demo | +${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s ${line}`);
  const sentinels = specs.filter((s) => s.kind === "sentinel");
  const natsNodes = specs.filter((s) => s.kind === "nats");
  const whole = async (what) => {
    const began = Date.now();
    const r = await waitFor(() => clusterWhole({ sentinels, welcomeUrl, ca }), {
      timeoutMs: PHASE_TIMEOUT_MS,
    });
    if (!r.ok)
      throw new Error(
        `the cluster is not whole ${what}: a sentinel's state is not ok, or Welcome does not see all ${sentinels.length} (make status)`,
      );
    return Date.now() - began;
  };
  try {
    say(`waiting until every sentinel's state is ok and Welcome sees all ${sentinels.length}`);
    await whole("before the demo");
  } catch (err) {
    say(`stopped: ${err.message}`);
    out(summaryLine(summarize([])));
    return 1;
  }
  const calls = [];
  let lastReplica;
  let waiter;
  let clientError = "";
  const child = spawn(process.execPath, [join(ROOT, "scripts/fabric/cluster-demo-client.mjs")], {
    cwd: ROOT,
    env: { ...clientEnv, FAME_NODE_NAME: DEMO_CLIENT_NAME, FAME_LOG_LEVEL: "warn" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    child.once("error", () => resolve(1));
  });
  let running = true;
  void exited.then(() => {
    running = false;
    waiter?.();
  });
  createInterface({ input: child.stdout }).on("line", (line) => {
    let rec;
    try {
      rec = JSON.parse(line);
    } catch {
      say(`client: ${line}`);
      return;
    }
    if (typeof rec.i !== "number") return;
    calls.push(rec);
    if (rec.ok && rec.replica) lastReplica = rec.replica;
    if (!rec.ok) say(`call ${rec.i} (${rec.op}) FAILED after ${rec.ms} ms: ${rec.code ?? ""} ${rec.error}`);
    waiter?.();
  });
  createInterface({ input: child.stderr }).on("line", (l) => {
    clientError = l;
    say(`client: ${l}`);
  });

  /** resolves once `n` more calls succeeded (true), or the client ended, the bound passed or calls keep failing (false) */
  const successes = (n, timeoutMs = PHASE_TIMEOUT_MS) => {
    const target = calls.filter((c) => c.ok).length + n;
    const failingInARow = () => calls.length - 1 - calls.findLastIndex((c) => c.ok);
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(false), timeoutMs);
      const done = (ok) => {
        clearTimeout(timer);
        waiter = undefined;
        resolve(ok);
      };
      waiter = () => {
        if (calls.filter((c) => c.ok).length >= target) done(true);
        else if (!running || failingInARow() >= MAX_FAILURES_IN_A_ROW) done(false);
      };
      waiter();
    });
  };
  /** the gap a fault caused: the longest wait between answers from the last one before `since` on */
  const gapSince = (since) => {
    const before = calls.filter((c) => c.ok && c.t < since).at(-1);
    return summarize([...(before ? [before] : []), ...calls.filter((c) => c.t >= since)]).maxGapMs;
  };

  let complete = false;
  try {
    say("client calls math@fame.fabric in a loop (add, whoami) over one encrypted channel");
    if (!(await successes(STEADY_CALLS)))
      throw new Error(`the client's calls do not succeed${clientError ? `: ${clientError}` : ""}`);
    const where = await attachments(sentinels, ca, headers);
    const clientSentinel = where.get(DEMO_CLIENT_NAME);
    if (!clientSentinel) throw new Error("no sentinel lists the client in its status");
    say(
      `client attached to ${clientSentinel.name}; channel pinned to ${lastReplica} (on ${where.get(lastReplica)?.name ?? "?"})`,
    );

    const fault = async (spec, what) => {
      const before = Date.now();
      const { pid } = await kill(spec);
      say(`SIGKILL ${spec.name} (pid ${pid}), ${what}`);
      if (!(await successes(STEADY_CALLS)))
        throw new Error(`calls did not resume after ${spec.name} was killed`);
      say(`calls continue; longest wait for an answer since the kill ${gapSince(before)} ms`);
      const newPid = await restart(spec);
      const ms = await whole(`after ${spec.name} restarted`);
      say(
        `${spec.name} restarted (pid ${newPid}); every sentinel's state ok and Welcome sees all ${sentinels.length} ${ms} ms later`,
      );
    };

    await fault(clientSentinel, "the sentinel the client is attached to");
    const after = await attachments(sentinels, ca, headers);
    const replicaSentinel = after.get(lastReplica);
    if (!replicaSentinel) throw new Error(`no sentinel lists ${lastReplica} in its status`);
    say(
      `client now on ${after.get(DEMO_CLIENT_NAME)?.name ?? "?"}; ${lastReplica} on ${replicaSentinel.name}`,
    );
    await fault(replicaSentinel, `the sentinel ${lastReplica} (the pinned replica) is attached to`);

    const infos = await Promise.all(natsNodes.map((n) => natsInfo(n)));
    const leader = infos.find((i) => i.metaLeader)?.metaLeader;
    const natsVictim = natsNodes.find((n) => n.name === leader) ?? natsNodes[0];
    await fault(natsVictim, leader ? "the JetStream meta leader" : "one of three NATS servers");
    if (!(await successes(STEADY_CALLS))) throw new Error("calls stopped after the NATS server came back");
    complete = true;
  } catch (err) {
    say(`stopped: ${err.message}`);
  } finally {
    child.stdin.end();
    const guard = setTimeout(() => child.kill("SIGKILL"), 30_000);
    await exited;
    clearTimeout(guard);
  }
  const summary = summarize(calls);
  out(summaryLine(summary));
  return complete && summary.failures === 0 && summary.calls > 0 ? 0 : 1;
}
