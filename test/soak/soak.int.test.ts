import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { readInt } from "@fame/config";
import { createLogger } from "@fame/logger";
import { ERROR_CODES } from "@fame/protocol";
import { Agent, connectFabric, type Fabric, nodeConfigFromEnv, RpcError } from "@fame/sdk";
import {
  type FabricStack,
  pidAlive,
  REPO_ROOT,
  type RunningProcess,
  startFabricStack,
  stopAll,
} from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  analyse,
  type CallRecord,
  type Execution,
  type Fault,
  formatReport,
  type SoakReport,
} from "./soak-report.js";

/**
 * Fault and load soak: CLIENTS clients call a non-idempotent operation over
 * encrypted channels to REPLICAS replicas without pause, while replicas are
 * SIGKILLed and restarted at random and the sentinel is restarted once.
 * Every call must settle (no hang), no response may be lost, no call may run
 * twice, and no channel frame may reach a replica other than the one that
 * accepted the channel.
 *
 * FAME_SOAK_SEC (default 25) sets the length; `pnpm test:soak` runs 120 s and
 * writes the report into docs/reliability.md (FAME_SOAK_UPDATE_DOCS=1).
 */
const SOAK_SEC = readInt(process.env["FAME_SOAK_SEC"], "FAME_SOAK_SEC", { fallback: 25, min: 10, max: 3600 });
const CLIENTS = readInt(process.env["FAME_SOAK_CLIENTS"], "FAME_SOAK_CLIENTS", {
  fallback: 20,
  min: 1,
  max: 200,
});
const PAUSE_MS = readInt(process.env["FAME_SOAK_PAUSE_MS"], "FAME_SOAK_PAUSE_MS", {
  fallback: 50,
  min: 0,
  max: 10_000,
});
const REPLICAS = ["r1", "r2", "r3"];
const CALL_TIMEOUT_MS = 8000;
/** a call not settled this long after its timeout is hung */
const HANG_GRACE_MS = 5000;
/** faults stop this long before the end, so the run ends on a healthy fabric */
const CALM_TAIL_MS = 4000;

interface RecordApi {
  record(p: { id: string }): Promise<{ id: string; replica: string }>;
}

let stack: FabricStack;
const clients: Fabric[] = [];
/** every replica process ever started, with its generation and the log lines the report needs */
const replicaProcs: { name: string; gen: number; proc: RunningProcess; lines: string[] }[] = [];
const generation = new Map<string, number>();
let report: SoakReport;

const rand = (lo: number, hi: number) => lo + Math.random() * (hi - lo);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function startReplica(name: string): Promise<void> {
  const gen = (generation.get(name) ?? 0) + 1;
  generation.set(name, gen);
  const proc = await stack.startReplica(name);
  replicaProcs.push({
    name,
    gen,
    proc,
    lines: keepLines(proc, /"msg":"(served|data for a channel not held here)"/),
  });
}

/**
 * Lines of a process's output that match, kept in full: the testkit's capture is
 * bounded (it drops old output in long runs), and a lost line would be a false alarm.
 */
function keepLines(proc: RunningProcess, match: RegExp): string[] {
  const kept: string[] = [];
  let partial = "";
  proc.child.stdout?.on("data", (chunk: Buffer) => {
    const parts = (partial + chunk.toString("utf8")).split("\n");
    partial = parts.pop() ?? "";
    for (const line of parts) if (match.test(line)) kept.push(line);
  });
  proc.child.stdout?.on("end", () => {
    if (match.test(partial)) kept.push(partial);
  });
  return kept;
}

function errorCode(err: unknown): string {
  if (err instanceof RpcError) return err.fameCode ?? `rpc_${err.code}`;
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" ? code : "unknown";
}

beforeAll(async () => {
  stack = await startFabricStack({
    securityProfile: "strict-overlay",
    encryption: "channel",
    // debug: the "served" lines name the channel (cid) only at debug, and the report groups by it
    agentEnv: { FAME_DRAIN_TIMEOUT_MS: "200", FAME_LOG_LEVEL: "debug" },
  });
  for (const name of REPLICAS) await startReplica(name);
  const config = nodeConfigFromEnv({ ...stack.nodeEnv, FAME_RPC_TIMEOUT_MS: String(CALL_TIMEOUT_MS) });
  for (let i = 0; i < CLIENTS; i++) {
    clients.push(
      await connectFabric({
        config,
        logger: createLogger({
          name: `soak-client-${i}`,
          level: "error",
          destination: new Writable({ write: (_c, _e, cb) => cb() }),
        }),
        installDefault: false,
      }),
    );
  }
}, 180_000);

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  const pids = stack?.allPids() ?? [];
  await stack?.stop();
  await stopAll();
  for (const pid of pids) expect(pidAlive(pid)).toBe(false);
});

describe(`soak: ${CLIENTS} clients × ${REPLICAS.length} replicas for ${SOAK_SEC} s with faults`, () => {
  it(
    "settles every call, loses no response, executes nothing twice, keeps channels sticky",
    async () => {
      const started = Date.now();
      const deadline = started + SOAK_SEC * 1000;
      const calls: CallRecord[] = [];
      const faults: Fault[] = [];

      const clientLoop = async (ci: number) => {
        const api = Agent.remoteByAddress<RecordApi>("math@fame.fabric", { endpoint: clients[ci]!.endpoint });
        for (let n = 0; Date.now() < deadline && n < 1_000_000; n++) {
          const id = `c${ci}-${n}`;
          const rec: CallRecord = {
            id,
            client: ci,
            startedAt: Date.now(),
            endedAt: 0,
            outcome: { kind: "hung" },
          };
          calls.push(rec);
          let timer: NodeJS.Timeout | undefined;
          const watchdog = new Promise<"hung">((resolve) => {
            timer = setTimeout(() => resolve("hung"), CALL_TIMEOUT_MS + HANG_GRACE_MS);
          });
          const settled = await Promise.race([
            api.record({ id }).then(
              (r) => ({ kind: "ok" as const, replica: r.replica }),
              (err: unknown) => ({
                kind: "error" as const,
                code: errorCode(err),
                message: (err as Error).message,
              }),
            ),
            watchdog,
          ]);
          clearTimeout(timer);
          rec.endedAt = Date.now();
          rec.outcome = settled === "hung" ? { kind: "hung" } : settled;
          if (PAUSE_MS > 0) await sleep(rand(PAUSE_MS / 2, PAUSE_MS * 1.5));
        }
      };

      const chaos = async () => {
        const restartAt = started + (SOAK_SEC * 1000) / 2;
        let sentinelRestarted = false;
        await sleep(rand(2000, 4000));
        while (Date.now() < deadline - CALM_TAIL_MS) {
          if (!sentinelRestarted && Date.now() >= restartAt) {
            sentinelRestarted = true;
            const at = Date.now();
            await stack.restartSentinel();
            faults.push({ kind: "sentinel-restart", target: "sentinel", at, backAt: Date.now() });
          } else {
            const name = REPLICAS[Math.floor(Math.random() * REPLICAS.length)]!;
            const at = Date.now();
            await stack.replicas.get(name)!.stop("SIGKILL");
            await sleep(rand(300, 1500));
            await startReplica(name);
            faults.push({ kind: "replica-kill", target: name, at, backAt: Date.now() });
          }
          await sleep(rand(2000, 5000));
        }
      };

      await Promise.all([...clients.map((_, i) => clientLoop(i)), chaos()]);

      // what the replicas say they executed (the log line is written before the answer is sent)
      const executions: Execution[] = [];
      let strayChannelFrames = 0;
      for (const { name, gen, lines } of replicaProcs) {
        for (const line of lines) {
          if (line.includes('"data for a channel not held here"')) strayChannelFrames++;
          if (!line.includes('"op":"record"')) continue;
          const entry = JSON.parse(line) as { id: string; cid?: string; time: string; msg: string };
          if (entry.msg !== "served") continue;
          executions.push({
            id: entry.id,
            process: `${name}#${gen}`,
            cid: entry.cid,
            at: Date.parse(entry.time),
          });
        }
      }
      report = analyse({
        durationSec: SOAK_SEC,
        clients: CLIENTS,
        replicas: REPLICAS.length,
        calls,
        executions,
        faults,
        strayChannelFrames,
        knownCodes: new Set<string>([...ERROR_CODES, "not_connected", "disconnected", "closed"]),
      });
      const table = formatReport(report);
      console.log(`\n${table}\n`);
      if (process.env["FAME_SOAK_UPDATE_DOCS"] === "1") updateDocs(table);

      // every client is attached again and its calls succeed once the faults are over
      for (const c of clients) expect(c.connection.state).toBe("attached");
      const lastOk = new Map<number, boolean>();
      for (const call of calls) lastOk.set(call.client, call.outcome.kind === "ok");
      expect([...lastOk.values()].filter((ok) => !ok)).toEqual([]);
      expect(report.calls).toBeGreaterThan(CLIENTS * 10);
      expect(report.replicaKills).toBeGreaterThanOrEqual(1);
      expect(report.sentinelRestarts).toBe(1);
      expect(report.hung).toBe(0);
      expect(report.lostResponses).toBe(0);
      expect(report.duplicateExecutions).toBe(0);
      expect(report.succeededUnlogged).toBe(0);
      expect(report.stickyViolations).toBe(0);
      expect(report.failedUnclear).toBe(0);
      // faults cost some calls, never most of them
      expect(report.succeeded / report.calls).toBeGreaterThan(0.8);
    },
    SOAK_SEC * 1000 + 120_000,
  );
});

/** replaces the report between the markers in docs/reliability.md */
function updateDocs(table: string): void {
  const file = join(REPO_ROOT, "docs", "reliability.md");
  const doc = readFileSync(file, "utf8");
  const start = "<!-- soak-report:start -->";
  const end = "<!-- soak-report:end -->";
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  if (i < 0 || j < i) throw new Error(`${file} has no ${start} … ${end} block`);
  const stamp = `Last run: ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, \`pnpm test:soak\` (FAME_SOAK_SEC=${SOAK_SEC}).`;
  writeFileSync(file, `${doc.slice(0, i + start.length)}\n${stamp}\n\n${table}\n${doc.slice(j)}`);
}
