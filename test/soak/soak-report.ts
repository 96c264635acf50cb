/**
 * Turns what a soak run observed (each call's outcome at the client, each
 * execution logged by a replica, the faults injected) into the report numbers.
 * Pure functions: the test gathers, this counts.
 */

export type Outcome =
  | { kind: "ok"; replica: string }
  | { kind: "error"; code: string; message: string }
  | { kind: "hung" };

export interface CallRecord {
  id: string;
  client: number;
  startedAt: number;
  endedAt: number;
  outcome: Outcome;
}

export interface Execution {
  id: string;
  /** replica name plus process generation, e.g. "r2#3" */
  process: string;
  cid: string | undefined;
  at: number;
}

export interface Fault {
  kind: "replica-kill" | "sentinel-restart";
  target: string;
  at: number;
  /** when the replacement was ready */
  backAt: number;
}

export interface SoakReport {
  durationSec: number;
  clients: number;
  replicas: number;
  replicaKills: number;
  sentinelRestarts: number;
  calls: number;
  succeeded: number;
  failedClearly: number;
  failedUnclear: number;
  hung: number;
  /** executed by a replica no fault touched, yet the caller got no result */
  lostResponses: number;
  /** executed, and the caller got an error: the replica or sentinel died before the answer got back */
  executedButFailedNearFault: number;
  /** executions per id above one, summed */
  duplicateExecutions: number;
  /** the caller got a result that no replica logged executing */
  succeededUnlogged: number;
  /** channels whose calls ran on more than one replica process, plus frames a replica received for a channel it does not hold */
  stickyViolations: number;
  errorCodes: Record<string, number>;
  perReplica: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** a fault "explains" a failure when the execution happened shortly before it or while it lasted */
const FAULT_WINDOW_MS = 3000;

export function analyse(input: {
  durationSec: number;
  clients: number;
  replicas: number;
  calls: CallRecord[];
  executions: Execution[];
  faults: Fault[];
  /** "data for a channel not held here" warnings across replicas */
  strayChannelFrames: number;
  knownCodes: ReadonlySet<string>;
}): SoakReport {
  const execById = new Map<string, Execution[]>();
  for (const e of input.executions) {
    const list = execById.get(e.id);
    if (list) list.push(e);
    else execById.set(e.id, [e]);
  }
  const nearFault = (e: Execution) =>
    input.faults.some(
      (f) =>
        (f.kind === "sentinel-restart" || e.process.startsWith(`${f.target}#`)) &&
        e.at >= f.at - FAULT_WINDOW_MS &&
        e.at <= f.backAt + FAULT_WINDOW_MS,
    );
  const r: SoakReport = {
    durationSec: input.durationSec,
    clients: input.clients,
    replicas: input.replicas,
    replicaKills: input.faults.filter((f) => f.kind === "replica-kill").length,
    sentinelRestarts: input.faults.filter((f) => f.kind === "sentinel-restart").length,
    calls: input.calls.length,
    succeeded: 0,
    failedClearly: 0,
    failedUnclear: 0,
    hung: 0,
    lostResponses: 0,
    executedButFailedNearFault: 0,
    duplicateExecutions: 0,
    succeededUnlogged: 0,
    stickyViolations: input.strayChannelFrames,
    errorCodes: {},
    perReplica: {},
    p50Ms: 0,
    p99Ms: 0,
    maxMs: 0,
  };
  const latencies: number[] = [];
  for (const call of input.calls) {
    const execs = execById.get(call.id) ?? [];
    if (execs.length > 1) r.duplicateExecutions += execs.length - 1;
    switch (call.outcome.kind) {
      case "ok":
        r.succeeded++;
        latencies.push(call.endedAt - call.startedAt);
        r.perReplica[call.outcome.replica] = (r.perReplica[call.outcome.replica] ?? 0) + 1;
        if (execs.length === 0) r.succeededUnlogged++;
        break;
      case "error": {
        const code = call.outcome.code;
        r.errorCodes[code] = (r.errorCodes[code] ?? 0) + 1;
        if (code === "timeout") r.lostResponses++;
        else if (input.knownCodes.has(code)) r.failedClearly++;
        else r.failedUnclear++;
        if (code !== "timeout" && execs.length > 0) {
          if (execs.every(nearFault)) r.executedButFailedNearFault++;
          else r.lostResponses++;
        }
        break;
      }
      case "hung":
        r.hung++;
        break;
    }
  }
  const processesByCid = new Map<string, Set<string>>();
  for (const e of input.executions) {
    if (!e.cid) continue;
    const set = processesByCid.get(e.cid) ?? new Set<string>();
    set.add(e.process);
    processesByCid.set(e.cid, set);
  }
  for (const set of processesByCid.values()) if (set.size > 1) r.stickyViolations++;
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  r.p50Ms = q(0.5);
  r.p99Ms = q(0.99);
  r.maxMs = latencies.at(-1) ?? 0;
  return r;
}

export function formatReport(r: SoakReport): string {
  const codes =
    Object.entries(r.errorCodes)
      .sort((a, b) => b[1] - a[1])
      .map(([c, n]) => `${c} ${n}`)
      .join(", ") || "none";
  const replicas =
    Object.entries(r.perReplica)
      .sort()
      .map(([name, n]) => `${name} ${n}`)
      .join(", ") || "none";
  const rows: [string, string | number, string][] = [
    ["duration", `${r.durationSec} s`, ""],
    ["clients × replicas", `${r.clients} × ${r.replicas}`, "channel encryption, strict-overlay"],
    ["faults", `${r.replicaKills} replica SIGKILLs, ${r.sentinelRestarts} sentinel restart`, ""],
    ["calls made", r.calls, "non-idempotent `record({id})`, one unique id per call"],
    ["succeeded", r.succeeded, `${pct(r.succeeded, r.calls)}; served by ${replicas}`],
    ["failed with a clear error", r.failedClearly, codes],
    ["failed without a clear error", r.failedUnclear, "must be 0"],
    ["hung (no settle within timeout + 5 s)", r.hung, "must be 0"],
    ["lost responses", r.lostResponses, "must be 0"],
    [
      "executed but failed, at a fault",
      r.executedButFailedNearFault,
      "replica/sentinel died before the answer got back",
    ],
    ["duplicated executions", r.duplicateExecutions, "must be 0"],
    ["succeeded but never executed", r.succeededUnlogged, "must be 0"],
    ["sticky violations", r.stickyViolations, "must be 0"],
    [
      "latency of successful calls",
      `p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, max ${r.maxMs} ms`,
      "includes retries",
    ],
  ];
  return [
    "| measure | value | notes |",
    "|---|---|---|",
    ...rows.map(([a, b, c]) => `| ${a} | ${b} | ${c} |`),
  ].join("\n");
}

function pct(n: number, of: number): string {
  return of === 0 ? "-" : `${((100 * n) / of).toFixed(2)} %`;
}
