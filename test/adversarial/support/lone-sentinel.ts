import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requestJson } from "@fame/http-service/client";
import { generateDevPki } from "@fame/identity/dev";
import { binOf, freePort, REPO_ROOT, type RunningProcess, startProcess } from "@fame/testkit";
import { rssBytes } from "./process-memory.js";

/**
 * A sentinel on its own (open profile, no admission) with math-agent replicas
 * on demand: for attacks where identity is not the point. Real TLS, real
 * processes on loopback, stopped by PID.
 */
export interface LoneSentinel {
  dir: string;
  trustBundle: string;
  /** https://127.0.0.1:port */
  url: string;
  /** wss://127.0.0.1:port/fame/v1/attach/ws/downstream */
  attachUrl: string;
  proc: RunningProcess;
  /** headers carrying the sentinel's admin token (drain; status and metrics outside open) */
  adminHeaders: Record<string, string>;
  /** FAME_* env for an in-process or spawned node of this fabric */
  nodeEnv: Record<string, string>;
  startReplica(name: string): Promise<RunningProcess>;
  status(): Promise<SentinelStatus>;
  /** the sentinel's resident memory, from /proc */
  rss(): number;
  stop(): Promise<void>;
}

export interface SentinelStatus {
  sessions: number;
  attaching: number;
  pendingOpens: number;
  counters: Record<string, number>;
  attachGate: {
    rateLimited: number;
    pendingFull: number;
    trackedIps: number;
    handshakesRefused: number;
    handshakeTimeouts: number;
    handshaking: number;
  };
  memory: { rss: number; heapUsed: number };
  nodes: { systemId: string }[];
  /** the sticky table's counters (present: the lone sentinel always has one) */
  stickiness: { pinsCreated: number; verifyFailures: number; perReplica: Record<string, number> };
}

export async function startLoneSentinel(
  opts: { env?: Record<string, string>; logLevel?: string } = {},
): Promise<LoneSentinel> {
  const dir = mkdtempSync(join(tmpdir(), "fame-lone-"));
  await generateDevPki({ dir });
  const trustBundle = readFileSync(join(dir, "trust-bundle.pem"), "utf8");
  const adminTokenFile = join(dir, "secrets", "admin-token");
  const adminHeaders = { authorization: `Bearer ${readFileSync(adminTokenFile, "utf8").trim()}` };
  const port = await freePort();
  const url = `https://127.0.0.1:${port}`;
  const attachUrl = `wss://127.0.0.1:${port}/fame/v1/attach/ws/downstream`;
  const configFile = join(dir, "no-config.yml");
  writeFileSync(configFile, "");
  const common = {
    FAME_CONFIG: configFile,
    FAME_CERTS_DIR: dir,
    FAME_CA_CERTS: join(dir, "trust-bundle.pem"),
    FAME_SECURITY_PROFILE: "open",
    FAME_ADMISSION_PROFILE: "none",
    FAME_LOG_LEVEL: opts.logLevel ?? "info",
  };
  const proc = await startProcess({
    name: "lone-sentinel",
    script: binOf("packages", "sentinel"),
    cwd: REPO_ROOT,
    env: {
      ...common,
      FAME_TLS_CERT: join(dir, "server.pem"),
      FAME_TLS_KEY: join(dir, "server.key"),
      FAME_SENTINEL_PORT: String(port),
      FAME_NODE_ID: "sentinel0",
      FAME_SENTINEL_ADMIN_TOKEN_FILE: adminTokenFile,
      ...opts.env,
    },
    readyUrl: `${url}/health`,
    ca: trustBundle,
    readyTimeoutMs: 30_000,
  });
  const nodeEnv = { ...common, FAME_SENTINEL_URL: attachUrl };
  const replicas: RunningProcess[] = [];
  return {
    dir,
    trustBundle,
    url,
    attachUrl,
    proc,
    adminHeaders,
    nodeEnv,
    async startReplica(name) {
      const p = await startProcess({
        name: `replica:${name}`,
        script: binOf("services", "math-agent"),
        cwd: REPO_ROOT,
        env: {
          ...nodeEnv,
          FAME_REQUESTED_LOGICALS: "*.fame.fabric",
          FAME_REPLICA_NAME: name,
          FAME_NODE_ID: name,
          FAME_DRAIN_TIMEOUT_MS: "500",
        },
        readyLine: /math agent ready/,
        readyTimeoutMs: 30_000,
      });
      replicas.push(p);
      return p;
    },
    status: () =>
      requestJson(`${url}/fame/v1/status`, {
        ca: trustBundle,
        headers: adminHeaders,
      }) as Promise<SentinelStatus>,
    rss: () => rssBytes(proc.pid),
    async stop() {
      for (const r of replicas) await r.stop("SIGTERM", 5000);
      await proc.stop("SIGTERM", 5000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
