/**
 * A sentinel cluster for the bench's cluster rows, as make start-cluster runs it: a 3-server
 * NATS JetStream cluster (3 copies of every bucket, a token), OAuth2, Welcome and CA in cluster
 * mode, and sentinels started one at a time (so the bench decides where Welcome places whom:
 * it picks the least loaded live sentinel). Real processes on loopback, stopped by PID.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { requestJson } from "../../packages/http-service/dist/client.js";
import {
  binOf,
  createTestPki,
  freePorts,
  REPO_ROOT,
  startNatsCluster,
  startProcess,
} from "../../packages/testkit/dist/index.js";

const HOST = "127.0.0.1";
const url = (port) => `https://${HOST}:${port}`;
const attachUrl = (port) => `wss://${HOST}:${port}/fame/v1/attach/ws/downstream`;

export async function startClusterStack({ natsServers = 3, logLevel = "warn" } = {}) {
  const token = (await import("node:crypto")).randomBytes(24).toString("hex");
  const nats = await startNatsCluster(natsServers, { token });
  const pki = await createTestPki("fame-bench-cluster");
  const procs = [];
  const sentinels = new Map();
  const tokenFile = join(pki.dir, "nats-token");
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  const [oauthPort, welcomePort, caPort] = await freePorts(3);
  const common = {
    ...pki.env,
    FAME_OAUTH2_ISSUER: url(oauthPort),
    FAME_WELCOME_ISSUER: url(welcomePort),
    FAME_LOG_LEVEL: logLevel,
    FAME_CONFIG: join(pki.dir, "no-config.yml"),
  };
  writeFileSync(common.FAME_CONFIG, "");
  const shared = {
    FAME_STORAGE_PROFILE: "nats",
    FAME_NATS_URL: nats.url,
    FAME_NATS_REPLICAS: String(Math.min(3, natsServers)),
    FAME_CLUSTER_ID: "bench",
    FAME_NATS_TOKEN_FILE: tokenFile,
  };
  const nodeEnv = {
    ...common,
    FAME_SECURITY_PROFILE: "strict-overlay",
    FAME_ADMISSION_PROFILE: "welcome",
    FAME_DEFAULT_ENCRYPTION_LEVEL: "channel",
    FAME_ADMISSION_TOKEN_URL: `${url(oauthPort)}/oauth/token`,
    FAME_ADMISSION_SERVICE_URL: url(welcomePort),
    FAME_ADMISSION_CLIENT_ID: pki.client.client_id,
    FAME_ADMISSION_CLIENT_SECRET: pki.client.client_secret,
  };
  const start = async (name, script, env, readyUrl) => {
    const p = await startProcess({
      name,
      script,
      cwd: REPO_ROOT,
      env,
      readyUrl,
      ca: pki.trustBundle,
      readyTimeoutMs: 30_000,
    });
    procs.push(p);
    return p;
  };
  const adminHeaders = { authorization: `Bearer ${pki.adminToken}` };
  const stack = {
    nats,
    nodeEnv,
    adminHeaders,
    sentinels,
    welcomeUrl: url(welcomePort),
    async status(id) {
      return requestJson(`${sentinels.get(id).url}/fame/v1/status`, {
        ca: pki.trustBundle,
        headers: adminHeaders,
      });
    },
    /** starts sentinel `id` (again, on the same port after a kill), ready once healthy */
    async startSentinel(id) {
      const known = sentinels.get(id);
      const port = known?.port ?? (await freePorts(1))[0];
      const proc = await start(
        `sentinel-${id}`,
        binOf("packages", "sentinel"),
        {
          ...common,
          ...shared,
          FAME_NODE_ID: id,
          FAME_SENTINEL_PORT: String(port),
          FAME_PUBLIC_URL: attachUrl(port),
          FAME_SECURITY_PROFILE: "strict-overlay",
          FAME_ADMISSION_PROFILE: "welcome",
          FAME_WELCOME_JWKS_URL: `${url(welcomePort)}/.well-known/jwks.json`,
          FAME_SENTINEL_ADMIN_TOKEN_FILE: pki.adminTokenFile,
          FAME_MAX_INFLIGHT: "1024",
        },
        `${url(port)}/health`,
      );
      sentinels.set(id, { id, port, url: url(port), proc, pid: proc.pid });
      return proc;
    },
    /**
     * A sentinel for the attach-rate rows, outside the placement game: admission `none`,
     * profile `overlay` (the sentinel checks key possession), no attach throttles; its state
     * on the cluster's NATS (`nats`) or in memory (`memory`, the single-sentinel baseline).
     */
    async startAttachSentinel(id, storage) {
      const [port] = await freePorts(1);
      const proc = await start(
        `sentinel-${id}`,
        binOf("packages", "sentinel"),
        {
          ...common,
          ...(storage === "nats" ? { ...shared, FAME_PUBLIC_URL: attachUrl(port) } : {}),
          FAME_NODE_ID: id,
          FAME_SENTINEL_PORT: String(port),
          FAME_SECURITY_PROFILE: "overlay",
          FAME_ADMISSION_PROFILE: "none",
          // the attachers send no heartbeats; the measurement is over long before this
          FAME_HEARTBEAT_MS: "60000",
          FAME_ATTACH_RATE_PER_MIN: "1000000",
          FAME_MAX_PENDING_ATTACH: "100000",
          FAME_MAX_PENDING_ATTACH_PER_IP: "100000",
        },
        `${url(port)}/health`,
      );
      return {
        proc,
        url: attachUrl(port),
        healthUrl: `${url(port)}/health`,
        ca: join(pki.dir, "trust-bundle.pem"),
      };
    },
    /** resolves once Welcome counts `n` live sentinels (their heartbeats reached the registry) */
    async welcomeSees(n, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const h = await requestJson(`${url(welcomePort)}/health`, { ca: pki.trustBundle }).catch(
          () => undefined,
        );
        if (h?.sentinels === n) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`Welcome did not see ${n} live sentinels within ${timeoutMs} ms`);
    },
    async stop() {
      for (const p of procs.reverse()) await p.stop("SIGTERM", 5000).catch(() => {});
      await nats.stop();
      pki.remove();
    },
  };
  await start(
    "oauth2",
    binOf("services", "oauth2"),
    { ...common, FAME_OAUTH2_PORT: String(oauthPort) },
    `${url(oauthPort)}/health`,
  );
  await start(
    "welcome",
    binOf("services", "welcome"),
    {
      ...common,
      ...shared,
      FAME_WELCOME_PORT: String(welcomePort),
      FAME_JWKS_URL: `${url(oauthPort)}/.well-known/jwks.json`,
      FAME_CA_SERVICE_URL: url(caPort),
    },
    `${url(welcomePort)}/health`,
  );
  await start(
    "ca",
    binOf("services", "ca"),
    {
      ...common,
      FAME_CA_PORT: String(caPort),
      FAME_WELCOME_JWKS_URL: `${url(welcomePort)}/.well-known/jwks.json`,
    },
    `${url(caPort)}/health`,
  );
  return stack;
}
