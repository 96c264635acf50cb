/**
 * Quick measurement of routing between sentinels (docs/scaling.md, "Routing between sentinels"):
 * one math replica on sentinel B; a client on B (same sentinel) and a client on A (its frames
 * cross sentinels over NATS both ways) call it over an encrypted channel, one client at a time:
 * sequential p50/p99 and 64-in-flight calls/s. Real processes on loopback: nats-server
 * (JetStream), OAuth2, Welcome and CA in cluster mode, two sentinels. Built code only.
 *
 *   node bench/cross-sentinel-quick.mjs [--measure-ms N] [--warmup-ms N]
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { requestJson } from "../packages/http-service/dist/client.js";
import { createLogger } from "../packages/logger/dist/index.js";
import { Agent, connectFabric, nodeConfigFromEnv } from "../packages/sdk/dist/index.js";
import {
  binOf,
  createTestPki,
  freePorts,
  REPO_ROOT,
  startNatsServer,
  startProcess,
  stopAll,
} from "../packages/testkit/dist/index.js";
import { closedLoop } from "./lib/closed-loop.mjs";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
};
const measureMs = arg("--measure-ms", 4000);
const warmupMs = arg("--warmup-ms", 1500);

const quiet = createLogger({
  name: "bench",
  level: "error",
  destination: new Writable({ write: (_c, _e, cb) => cb() }),
});
const procs = [];
let nats;
let pki;

async function main() {
  nats = await startNatsServer();
  pki = await createTestPki("fame-cross-sentinel");
  const [oauthPort, welcomePort, caPort, portA, portB] = await freePorts(5);
  const url = (port) => `https://127.0.0.1:${port}`;
  const attach = (port) => `wss://127.0.0.1:${port}/fame/v1/attach/ws/downstream`;
  const common = {
    ...pki.env,
    FAME_OAUTH2_ISSUER: url(oauthPort),
    FAME_WELCOME_ISSUER: url(welcomePort),
    FAME_LOG_LEVEL: "info",
    FAME_CONFIG: join(pki.dir, "no-config.yml"),
  };
  writeFileSync(common.FAME_CONFIG, "");
  const cluster = { FAME_STORAGE_PROFILE: "nats", FAME_NATS_URL: nats.url, FAME_CLUSTER_ID: "bench" };
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
  const clientEnv = {
    ...nodeEnv,
    FAME_ADMISSION_CLIENT_ID: pki.caller.client_id,
    FAME_ADMISSION_CLIENT_SECRET: pki.caller.client_secret,
  };
  const start = async (name, script, env, readyUrl) => {
    const p = await startProcess({
      name,
      script,
      cwd: REPO_ROOT,
      env,
      ...(readyUrl ? { readyUrl, ca: pki.trustBundle } : { readyLine: /math agent ready/ }),
      readyTimeoutMs: 30_000,
    });
    procs.push(p);
    return p;
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
      ...cluster,
      FAME_WELCOME_PORT: String(welcomePort),
      FAME_JWKS_URL: `${url(oauthPort)}/.well-known/jwks.json`,
      FAME_CA_SERVICE_URL: url(caPort),
      FAME_TRANSPORT_URL: attach(portB),
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
  const sentinel = (id, port) =>
    start(
      `sentinel-${id}`,
      binOf("packages", "sentinel"),
      {
        ...common,
        ...cluster,
        FAME_NODE_ID: id,
        FAME_SENTINEL_PORT: String(port),
        FAME_PUBLIC_URL: attach(port),
        FAME_SECURITY_PROFILE: "strict-overlay",
        FAME_ADMISSION_PROFILE: "welcome",
        FAME_WELCOME_JWKS_URL: `${url(welcomePort)}/.well-known/jwks.json`,
        FAME_SENTINEL_ADMIN_TOKEN_FILE: pki.adminTokenFile,
        FAME_MAX_INFLIGHT: "1024",
      },
      `${url(port)}/health`,
    );
  const connect = () =>
    connectFabric({ config: nodeConfigFromEnv(clientEnv), logger: quiet, installDefault: false });
  // While only B is live, Welcome places the replica and the same-sentinel client there;
  // then A, the least loaded, gets the cross-sentinel client.
  await sentinel("B", portB);
  await start("replica", binOf("services", "math-agent"), {
    ...nodeEnv,
    FAME_REQUESTED_LOGICALS: "*.fame.fabric",
    FAME_REPLICA_NAME: "r1",
  });
  const same = await connect();
  await sentinel("A", portA);
  const statusOf = (port) =>
    requestJson(`${url(port)}/fame/v1/status`, {
      ca: pki.trustBundle,
      headers: { authorization: `Bearer ${pki.adminToken}` },
    });
  for (let i = 0; i < 200 && ((await statusOf(portA)).cluster?.remoteNodes ?? 0) < 2; i++)
    await new Promise((r) => setTimeout(r, 50));
  const cross = await connect();
  const placedOnA = (await statusOf(portA)).nodes.length;
  if (placedOnA !== 1)
    throw new Error(`expected the cross client alone on A, found ${placedOnA} nodes there`);

  const results = {};
  for (const [name, f] of [
    ["same-sentinel", same],
    ["cross-sentinel", cross],
  ]) {
    const math = Agent.remoteByAddress("math@fame.fabric", { endpoint: f.endpoint, idempotent: ["add"] });
    const op = () => math.add({ x: 1, y: 2 });
    const seq = await closedLoop(op, { concurrency: 1, warmupMs, measureMs });
    const par = await closedLoop(op, { concurrency: 64, warmupMs, measureMs });
    if (seq.errors + par.errors > 0) throw new Error(`${name}: ${seq.firstError ?? par.firstError}`);
    results[name] = {
      seqP50Ms: seq.latencyMs.p50,
      seqP99Ms: seq.latencyMs.p99,
      seqPerSec: seq.perSec,
      inflight64PerSec: par.perSec,
      inflight64P50Ms: par.latencyMs.p50,
    };
  }
  const ratio = {
    seqP50: results["cross-sentinel"].seqP50Ms / results["same-sentinel"].seqP50Ms,
    inflight64Throughput:
      results["cross-sentinel"].inflight64PerSec / results["same-sentinel"].inflight64PerSec,
  };
  console.log(JSON.stringify({ measureMs, warmupMs, results, ratio }, null, 2));
  await cross.close();
  await same.close();
}

try {
  await main();
} finally {
  for (const p of procs.reverse()) await p.stop("SIGTERM", 5000);
  await stopAll();
  await nats?.stop();
  pki?.remove();
}
