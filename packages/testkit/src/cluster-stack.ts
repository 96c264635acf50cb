import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { requestJson } from "@fame/http-service/client";
import { createTestPki, type TestPki } from "./dev-pki.js";
import { binOf, freePorts, REPO_ROOT } from "./fabric-stack.js";
import { type NatsCluster, type NatsServer, startNatsCluster, startNatsServer } from "./nats-servers.js";
import { type RunningProcess, startProcess } from "./processes.js";

export interface ClusterStackOptions {
  /** the cluster's id (FAME_CLUSTER_ID); default "itcluster" */
  clusterId?: string;
  /** nats-server processes: 1 (default) is a single JetStream server, more a routed cluster */
  natsServers?: number;
  /** NATS clients must present a token (written to a 0600 file, FAME_NATS_TOKEN_FILE); default false */
  natsToken?: boolean;
  /** Welcome processes in cluster mode, sharing only the dev PKI's node-id key file; default 1 */
  welcomes?: number;
  /** extra env for every Welcome process */
  welcomeEnv?: Record<string, string>;
  /** extra env for every sentinel */
  sentinelEnv?: Record<string, string>;
  logLevel?: string;
  /** prefix of the dev PKI's temporary directory */
  name?: string;
}

export interface ClusterSentinel {
  readonly id: string;
  readonly port: number;
  /** https://127.0.0.1:<port> (health, status, metrics, drain) */
  readonly url: string;
  /** the wss attach URL it advertises (FAME_PUBLIC_URL) */
  readonly attach: string;
  /** the running process (replaced by a restart) */
  proc: RunningProcess;
}

export interface ClusterStack {
  readonly clusterId: string;
  readonly nats: NatsServer | NatsCluster;
  readonly pki: TestPki;
  readonly urls: { oauth2: string; welcome: string; welcomes: string[]; ca: string };
  /** what every fabric process gets: the dev PKI, issuers, log level, an empty config file */
  readonly serviceEnv: Record<string, string>;
  /** the shared-state settings of Welcome and the sentinels (FAME_STORAGE_PROFILE=nats, …) */
  readonly storageEnv: Record<string, string>;
  /** for `openFabricState`: the cluster's NATS as a reader in the test process */
  readonly stateSettings: {
    profile: "nats";
    clusterId: string;
    servers: string[];
    replicas: number;
    auth: { kind: "token"; token: string } | undefined;
  };
  /** FAME_* environment a node needs to join, with the agent credential (serve and call) */
  readonly nodeEnv: Record<string, string>;
  /** the same with the call-only client credential */
  readonly clientEnv: Record<string, string>;
  /** headers that carry the sentinels' admin token (status, metrics, drain) */
  readonly adminHeaders: Record<string, string>;
  /** the sentinels started so far, by id */
  readonly sentinels: Map<string, ClusterSentinel>;
  /**
   * Starts sentinel `id` (strict-overlay, Welcome admission) in the cluster, ready once healthy;
   * again on the same port after it was stopped. `env` overrides its settings.
   */
  startSentinel(id: string, env?: Record<string, string>): Promise<ClusterSentinel>;
  /** starts a math-agent replica named `name`, ready once it serves */
  startReplica(name: string, env?: Record<string, string>): Promise<RunningProcess>;
  /** any fabric process, with the service env, stopped with the stack */
  start(
    name: string,
    script: string,
    env: Record<string, string>,
    ready: { readyUrl: string } | { readyLine: RegExp },
  ): Promise<RunningProcess>;
  /** GET /fame/v1/status of sentinel `id` */
  status<T = Record<string, unknown>>(id: string): Promise<T>;
  /** resolves once (the first) Welcome counts `n` live sentinels; polls, bounded by `timeoutMs` */
  welcomeSees(n: number, timeoutMs?: number): Promise<void>;
  /** the sentinel whose attach URL is `attachUrl` */
  sentinelAt(attachUrl: string | undefined): ClusterSentinel | undefined;
  /** every process ever started here, for PID checks */
  allPids(): number[];
  /** SIGTERM every process (last started first), stop NATS, remove the PKI */
  stop(): Promise<void>;
}

const HOST = "127.0.0.1";
const httpsUrl = (port: number) => `https://${HOST}:${port}`;
const attachUrl = (port: number) => `wss://${HOST}:${port}/fame/v1/attach/ws/downstream`;

/**
 * A sentinel cluster as real processes on loopback: nats-server with JetStream (one, or a
 * routed cluster), a fresh dev PKI, OAuth2, Welcome (one or more) and the CA in cluster mode;
 * sentinels and replicas on demand, so a test decides where Welcome places whom (it picks the
 * least loaded live sentinel). Built code (dist/) only.
 */
export async function startClusterStack(opts: ClusterStackOptions = {}): Promise<ClusterStack> {
  const clusterId = opts.clusterId ?? "itcluster";
  const natsServers = opts.natsServers ?? 1;
  const token = opts.natsToken ? randomBytes(24).toString("hex") : undefined;
  const natsOpts = token === undefined ? {} : { token };
  const nats =
    natsServers === 1 ? await startNatsServer(natsOpts) : await startNatsCluster(natsServers, natsOpts);
  const procs: RunningProcess[] = [];
  let pki: TestPki | undefined;
  try {
    pki = await createTestPki(opts.name ?? "fame-cluster");
    return await assemble(clusterId, nats, pki, procs, token, opts);
  } catch (err) {
    // half a cluster is no use to anyone: end what started and drop the PKI with its secrets
    for (const p of procs.reverse()) await p.stop("SIGKILL");
    await nats.stop();
    pki?.remove();
    throw err;
  }
}

async function assemble(
  clusterId: string,
  nats: NatsServer | NatsCluster,
  pki: TestPki,
  procs: RunningProcess[],
  token: string | undefined,
  opts: ClusterStackOptions,
): Promise<ClusterStack> {
  const welcomes = opts.welcomes ?? 1;
  const [oauthPort, caPort, ...welcomePorts] = (await freePorts(2 + welcomes)) as number[];
  const urls = {
    oauth2: httpsUrl(oauthPort!),
    welcome: httpsUrl(welcomePorts[0]!),
    welcomes: welcomePorts.map(httpsUrl),
    ca: httpsUrl(caPort!),
  };
  const serviceEnv: Record<string, string> = {
    ...pki.env,
    FAME_OAUTH2_ISSUER: urls.oauth2,
    FAME_WELCOME_ISSUER: urls.welcome,
    FAME_LOG_LEVEL: opts.logLevel ?? "info",
    FAME_CONFIG: join(pki.dir, "no-config.yml"),
  };
  // an explicit FAME_CONFIG must exist: an empty file keeps each process on env only
  writeFileSync(serviceEnv["FAME_CONFIG"]!, "");
  const natsServers = "nodes" in nats ? nats.nodes.length : 1;
  const storageEnv: Record<string, string> = {
    FAME_STORAGE_PROFILE: "nats",
    FAME_NATS_URL: nats.url,
    FAME_CLUSTER_ID: clusterId,
    FAME_NATS_REPLICAS: String(Math.min(3, natsServers)),
  };
  if (token !== undefined) {
    const tokenFile = join(pki.dir, "nats-token");
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    storageEnv["FAME_NATS_TOKEN_FILE"] = tokenFile;
  }
  const nodeEnv: Record<string, string> = {
    ...serviceEnv,
    FAME_SECURITY_PROFILE: "strict-overlay",
    FAME_ADMISSION_PROFILE: "welcome",
    FAME_DEFAULT_ENCRYPTION_LEVEL: "channel",
    FAME_ADMISSION_TOKEN_URL: `${urls.oauth2}/oauth/token`,
    FAME_ADMISSION_SERVICE_URL: urls.welcome,
    FAME_ADMISSION_CLIENT_ID: pki.agent.client_id,
    FAME_ADMISSION_CLIENT_SECRET: pki.agent.client_secret,
  };
  const clientEnv: Record<string, string> = {
    ...nodeEnv,
    FAME_ADMISSION_CLIENT_ID: pki.caller.client_id,
    FAME_ADMISSION_CLIENT_SECRET: pki.caller.client_secret,
  };
  const adminHeaders = { authorization: `Bearer ${pki.adminToken}` };
  const sentinels = new Map<string, ClusterSentinel>();
  const start: ClusterStack["start"] = async (name, script, env, ready) => {
    const p = await startProcess({
      name,
      script,
      cwd: REPO_ROOT,
      env: { ...serviceEnv, ...env },
      ...("readyUrl" in ready ? { readyUrl: ready.readyUrl, ca: pki.trustBundle } : ready),
      readyTimeoutMs: 30_000,
    });
    procs.push(p);
    return p;
  };
  const welcomeJwks = `${urls.welcome}/.well-known/jwks.json`;

  await start(
    "oauth2",
    binOf("services", "oauth2"),
    { FAME_OAUTH2_PORT: String(oauthPort) },
    { readyUrl: `${urls.oauth2}/health` },
  );
  for (const [i, port] of welcomePorts.entries())
    await start(
      i === 0 ? "welcome" : `welcome${i + 1}`,
      binOf("services", "welcome"),
      {
        ...storageEnv,
        FAME_WELCOME_PORT: String(port),
        FAME_JWKS_URL: `${urls.oauth2}/.well-known/jwks.json`,
        FAME_CA_SERVICE_URL: urls.ca,
        ...opts.welcomeEnv,
      },
      { readyUrl: `${httpsUrl(port)}/health` },
    );
  await start(
    "ca",
    binOf("services", "ca"),
    { FAME_CA_PORT: String(caPort), FAME_WELCOME_JWKS_URL: welcomeJwks },
    { readyUrl: `${urls.ca}/health` },
  );

  const stack: ClusterStack = {
    clusterId,
    nats,
    pki,
    urls,
    serviceEnv,
    storageEnv,
    stateSettings: {
      profile: "nats",
      clusterId,
      servers: "urls" in nats ? nats.urls : [nats.url],
      replicas: Math.min(3, natsServers),
      auth: token === undefined ? undefined : { kind: "token", token },
    },
    nodeEnv,
    clientEnv,
    adminHeaders,
    sentinels,
    async startSentinel(id, env = {}) {
      const known = sentinels.get(id);
      const port = known?.port ?? (await freePorts(1))[0]!;
      const proc = await start(
        `sentinel-${id}`,
        binOf("packages", "sentinel"),
        {
          ...storageEnv,
          FAME_NODE_ID: id,
          FAME_SENTINEL_PORT: String(port),
          FAME_PUBLIC_URL: attachUrl(port),
          FAME_SECURITY_PROFILE: "strict-overlay",
          FAME_ADMISSION_PROFILE: "welcome",
          FAME_WELCOME_JWKS_URL: welcomeJwks,
          FAME_SENTINEL_ADMIN_TOKEN_FILE: pki.adminTokenFile,
          ...opts.sentinelEnv,
          ...env,
        },
        { readyUrl: `${httpsUrl(port)}/health` },
      );
      if (known !== undefined) {
        known.proc = proc;
        return known;
      }
      const s: ClusterSentinel = { id, port, url: httpsUrl(port), attach: attachUrl(port), proc };
      sentinels.set(id, s);
      return s;
    },
    startReplica(name, env = {}) {
      return start(
        `replica-${name}`,
        binOf("services", "math-agent"),
        { ...nodeEnv, FAME_REQUESTED_LOGICALS: "*.fame.fabric", FAME_REPLICA_NAME: name, ...env },
        { readyLine: /math agent ready/ },
      );
    },
    start,
    async status<T>(id: string) {
      const s = sentinels.get(id);
      if (s === undefined) throw new Error(`no sentinel ${id} in this cluster`);
      return (await requestJson(`${s.url}/fame/v1/status`, {
        ca: pki.trustBundle,
        headers: adminHeaders,
      })) as T;
    },
    async welcomeSees(n, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const h = (await requestJson(`${urls.welcome}/health`, { ca: pki.trustBundle }).catch(
          () => undefined,
        )) as { sentinels?: number } | undefined;
        if (h?.sentinels === n) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`Welcome did not see ${n} live sentinels within ${timeoutMs} ms`);
    },
    sentinelAt(url) {
      for (const s of sentinels.values()) if (s.attach === url) return s;
      return undefined;
    },
    allPids: () => procs.map((p) => p.pid),
    async stop() {
      for (const p of [...procs].reverse()) await p.stop("SIGTERM", 5000).catch(() => {});
      await nats.stop();
      pki.remove();
    },
  };
  return stack;
}
