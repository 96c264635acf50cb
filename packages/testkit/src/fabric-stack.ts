import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TlsKeyAlgorithm } from "@fame/identity/dev";
import { createTestPki } from "./dev-pki.js";
import { type RunningProcess, startProcess } from "./processes.js";

/** repository root (this file lives in packages/testkit/{src,dist}/) */
export const REPO_ROOT = fileURLToPath(new URL("../../..", import.meta.url));

export const binOf = (dir: "services" | "packages", name: string) =>
  join(REPO_ROOT, dir, name, "dist", "bin.js");

/**
 * `count` distinct ports the OS just handed out, bound and released so services
 * can take them. All are held until the last is bound: a port released early
 * could be handed out again within the same call.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  try {
    return await Promise.all(
      servers.map(
        (srv) =>
          new Promise<number>((resolve, reject) => {
            srv.once("error", reject);
            srv.listen(0, "127.0.0.1", () => {
              const addr = srv.address();
              resolve(typeof addr === "object" && addr ? addr.port : 0);
            });
          }),
      ),
    );
  } finally {
    await Promise.all(
      servers.map(
        (srv) => new Promise<void>((resolve) => (srv.listening ? srv.close(() => resolve()) : resolve())),
      ),
    );
  }
}

/** A port the OS just handed out; bound and released so a service can take it. */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}

export interface FabricStackOptions {
  securityProfile?: "open" | "overlay" | "strict-overlay";
  encryption?: "plaintext" | "channel";
  /** extra env for the sentinel (stickiness config, load balancing, …) */
  sentinelEnv?: Record<string, string>;
  /** extra env for OAuth2, Welcome and the CA (connection limits, work bounds, …) */
  serviceEnv?: Record<string, string>;
  /** extra env for every agent replica */
  agentEnv?: Record<string, string>;
  logLevel?: string;
  /**
   * an access policy file (FAME_POLICY_FILE) for Welcome and the sentinel, e.g. the demo's
   * config/policy.yml; default none (everyone serves what Welcome grants and calls anything)
   */
  policyFile?: string;
  /**
   * key type of the services' TLS certificate; default Ed25519. Browsers accept no Ed25519
   * certificate: a test driving a browser at the sentinel needs "ECDSA-P256" (as `make pki` issues).
   */
  tlsKeyAlgorithm?: TlsKeyAlgorithm;
}

export interface FabricStack {
  dir: string;
  trustBundle: string;
  urls: { oauth2: string; welcome: string; ca: string; sentinel: string; attach: string };
  /** headers that carry the sentinel's admin token (status, metrics, drain) */
  adminHeaders: Record<string, string>;
  /** FAME_* environment a node needs to join this fabric, with the agent credential (serve and call) */
  nodeEnv: Record<string, string>;
  /** the same with the call-only client credential (fame-dev-client) */
  clientEnv: Record<string, string>;
  sentinel: RunningProcess;
  services: RunningProcess[];
  replicas: Map<string, RunningProcess>;
  /** starts (or restarts) a math-agent replica under a name, ready once it serves */
  startReplica(name: string, env?: Record<string, string>): Promise<RunningProcess>;
  restartSentinel(): Promise<RunningProcess>;
  /** every process ever started here, for PID checks */
  allPids(): number[];
  stop(): Promise<void>;
}

/**
 * The whole fabric as real processes on loopback with real TLS: a fresh dev
 * PKI, OAuth2, Welcome, CA, the sentinel, and math-agent replicas on demand.
 * Built code (dist/) only: run `make build` first.
 */
export async function startFabricStack(opts: FabricStackOptions = {}): Promise<FabricStack> {
  const pki = await createTestPki(
    "fame-stack",
    opts.tlsKeyAlgorithm ? { tlsKeyAlgorithm: opts.tlsKeyAlgorithm } : {},
  );
  const { dir, trustBundle, client } = pki;
  const [oauthPort, welcomePort, caPort, sentinelPort] = await freePorts(4);
  const host = "127.0.0.1";
  const urls = {
    oauth2: `https://${host}:${oauthPort}`,
    welcome: `https://${host}:${welcomePort}`,
    ca: `https://${host}:${caPort}`,
    sentinel: `https://${host}:${sentinelPort}`,
    attach: `wss://${host}:${sentinelPort}/fame/v1/attach/ws/downstream`,
  };
  const profile = opts.securityProfile ?? "strict-overlay";
  const common: Record<string, string> = {
    ...pki.env,
    FAME_OAUTH2_ISSUER: urls.oauth2,
    FAME_WELCOME_ISSUER: urls.welcome,
    FAME_LOG_LEVEL: opts.logLevel ?? "info",
    FAME_CONFIG: join(dir, "no-config.yml"),
    ...(opts.policyFile ? { FAME_POLICY_FILE: opts.policyFile } : {}),
  };
  // an explicit FAME_CONFIG must exist: an empty file keeps each process on env only
  writeFileSync(common["FAME_CONFIG"]!, "");
  const nodeEnv: Record<string, string> = {
    ...common,
    FAME_SECURITY_PROFILE: profile,
    FAME_ADMISSION_PROFILE: "welcome",
    FAME_DEFAULT_ENCRYPTION_LEVEL: opts.encryption ?? "channel",
    FAME_ADMISSION_TOKEN_URL: `${urls.oauth2}/oauth/token`,
    FAME_ADMISSION_SERVICE_URL: urls.welcome,
    FAME_ADMISSION_CLIENT_ID: client.client_id,
    FAME_ADMISSION_CLIENT_SECRET: client.client_secret,
  };
  const clientEnv: Record<string, string> = {
    ...nodeEnv,
    FAME_ADMISSION_CLIENT_ID: pki.caller.client_id,
    FAME_ADMISSION_CLIENT_SECRET: pki.caller.client_secret,
  };
  const procs: RunningProcess[] = [];
  const replicas = new Map<string, RunningProcess>();
  const start = async (name: string, script: string, env: Record<string, string>, readyUrl?: string) => {
    const p = await startProcess({
      name,
      script,
      cwd: REPO_ROOT,
      env: { ...common, ...env },
      ...(readyUrl ? { readyUrl, ca: trustBundle } : { readyLine: /math agent ready/ }),
      readyTimeoutMs: 30_000,
    });
    procs.push(p);
    return p;
  };
  const services: RunningProcess[] = [];
  const sentinelEnv = {
    FAME_SENTINEL_PORT: String(sentinelPort),
    FAME_SECURITY_PROFILE: profile,
    FAME_ADMISSION_PROFILE: "welcome",
    FAME_WELCOME_JWKS_URL: `${urls.welcome}/.well-known/jwks.json`,
    FAME_NODE_ID: "sentinel0",
    FAME_SENTINEL_ADMIN_TOKEN_FILE: pki.adminTokenFile,
    ...opts.sentinelEnv,
  };
  const startSentinel = () =>
    start("sentinel", binOf("packages", "sentinel"), sentinelEnv, `${urls.sentinel}/health`);
  let sentinel: RunningProcess;
  try {
    services.push(
      await start(
        "oauth2",
        binOf("services", "oauth2"),
        { FAME_OAUTH2_PORT: String(oauthPort), ...opts.serviceEnv },
        `${urls.oauth2}/health`,
      ),
    );
    services.push(
      await start(
        "welcome",
        binOf("services", "welcome"),
        {
          FAME_WELCOME_PORT: String(welcomePort),
          FAME_JWKS_URL: `${urls.oauth2}/.well-known/jwks.json`,
          FAME_CA_SERVICE_URL: urls.ca,
          FAME_TRANSPORT_URL: urls.attach,
          FAME_SENTINEL_ID: "sentinel0",
          ...opts.serviceEnv,
        },
        `${urls.welcome}/health`,
      ),
    );
    services.push(
      await start(
        "ca",
        binOf("services", "ca"),
        {
          FAME_CA_PORT: String(caPort),
          FAME_WELCOME_JWKS_URL: `${urls.welcome}/.well-known/jwks.json`,
          ...opts.serviceEnv,
        },
        `${urls.ca}/health`,
      ),
    );
    sentinel = await startSentinel();
  } catch (err) {
    // half a stack is no use to anyone: end what started and drop the PKI with its secrets
    for (const p of procs) await p.stop("SIGKILL");
    pki.remove();
    throw err;
  }
  const stack: FabricStack = {
    dir,
    trustBundle,
    urls,
    adminHeaders: { authorization: `Bearer ${pki.adminToken}` },
    nodeEnv,
    clientEnv,
    sentinel,
    services,
    replicas,
    async startReplica(name, env = {}) {
      const old = replicas.get(name);
      if (old) await old.stop("SIGKILL");
      const p = await start(`replica:${name}`, binOf("services", "math-agent"), {
        ...nodeEnv,
        FAME_REQUESTED_LOGICALS: "*.fame.fabric",
        FAME_REPLICA_NAME: name,
        FAME_DRAIN_TIMEOUT_MS: "1000",
        ...opts.agentEnv,
        ...env,
      });
      replicas.set(name, p);
      return p;
    },
    async restartSentinel() {
      await stack.sentinel.stop("SIGKILL");
      stack.sentinel = await startSentinel();
      return stack.sentinel;
    },
    allPids: () => procs.map((p) => p.pid),
    async stop() {
      for (const p of [...procs].reverse()) await p.stop("SIGTERM", 5000);
      pki.remove();
    },
  };
  return stack;
}
