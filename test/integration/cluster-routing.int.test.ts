import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { requestJson } from "@fame/http-service/client";
import { Agent, connectFabric, type Fabric, nodeConfigFromEnv } from "@fame/sdk";
import {
  binOf,
  createTestPki,
  freePorts,
  type NatsServer,
  pidAlive,
  REPO_ROOT,
  type RunningProcess,
  startNatsServer,
  startProcess,
  stopAll,
  type TestPki,
} from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { quietLogger } from "../support/fabric-clients.js";

/**
 * Routing between sentinels with real processes: nats-server (JetStream), the identity
 * services in cluster mode, sentinels A and B sharing the state. The replica attaches while
 * only B is up (Welcome places it there), the client while A is the least loaded: its
 * encrypted channel to the replica crosses sentinels over NATS both ways.
 */

interface MathApi {
  add(p: { x: number; y: number }): Promise<number>;
  whoami(): Promise<{ replica: string }>;
}

interface Status {
  nodes?: { systemId: string; name?: string }[];
  stickiness?: { pinsCreated: number; hits: number };
  cluster?: { remoteNodes: number; forwardedOut: number; forwardedIn: number; badIn: number };
}

const CLUSTER_ID = "itcluster";
let nats: NatsServer;
let pki: TestPki;
const procs: RunningProcess[] = [];
const clients: Fabric[] = [];
let nodeEnv: Record<string, string> = {};
let clientEnv: Record<string, string> = {};
const sentinels = new Map<string, { url: string; attach: string }>();
let sentinelA: RunningProcess;
let client: { f: Fabric; math: MathApi } | undefined;

async function start(name: string, script: string, env: Record<string, string>, readyUrl?: string) {
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
}

const status = async (id: string) =>
  (await requestJson(`${sentinels.get(id)!.url}/fame/v1/status`, {
    ca: pki.trustBundle,
    headers: { authorization: `Bearer ${pki.adminToken}` },
  })) as Status;

beforeAll(async () => {
  nats = await startNatsServer();
  pki = await createTestPki("fame-cluster-routing");
  const [oauthPort, welcomePort, caPort, portA, portB] = (await freePorts(5)) as number[];
  const host = "127.0.0.1";
  const url = (port: number | undefined) => `https://${host}:${port}`;
  for (const [id, port] of [
    ["A", portA],
    ["B", portB],
  ] as const)
    sentinels.set(id, { url: url(port), attach: `wss://${host}:${port}/fame/v1/attach/ws/downstream` });
  const common: Record<string, string> = {
    ...pki.env,
    FAME_OAUTH2_ISSUER: url(oauthPort),
    FAME_WELCOME_ISSUER: url(welcomePort),
    FAME_LOG_LEVEL: "info",
    FAME_CONFIG: join(pki.dir, "no-config.yml"),
  };
  writeFileSync(common["FAME_CONFIG"]!, "");
  const cluster = { FAME_STORAGE_PROFILE: "nats", FAME_NATS_URL: nats.url, FAME_CLUSTER_ID: CLUSTER_ID };
  nodeEnv = {
    ...common,
    FAME_SECURITY_PROFILE: "strict-overlay",
    FAME_ADMISSION_PROFILE: "welcome",
    FAME_DEFAULT_ENCRYPTION_LEVEL: "channel",
    FAME_ADMISSION_TOKEN_URL: `${url(oauthPort)}/oauth/token`,
    FAME_ADMISSION_SERVICE_URL: url(welcomePort),
    FAME_ADMISSION_CLIENT_ID: pki.client.client_id,
    FAME_ADMISSION_CLIENT_SECRET: pki.client.client_secret,
  };
  clientEnv = {
    ...nodeEnv,
    FAME_ADMISSION_CLIENT_ID: pki.caller.client_id,
    FAME_ADMISSION_CLIENT_SECRET: pki.caller.client_secret,
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
      FAME_TRANSPORT_URL: sentinels.get("B")!.attach,
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
  const startSentinel = (id: string, port: number | undefined) =>
    start(
      `sentinel-${id}`,
      binOf("packages", "sentinel"),
      {
        ...common,
        ...cluster,
        FAME_NODE_ID: id,
        FAME_SENTINEL_PORT: String(port),
        FAME_PUBLIC_URL: sentinels.get(id)!.attach,
        FAME_SECURITY_PROFILE: "strict-overlay",
        FAME_ADMISSION_PROFILE: "welcome",
        FAME_WELCOME_JWKS_URL: `${url(welcomePort)}/.well-known/jwks.json`,
        FAME_SENTINEL_ADMIN_TOKEN_FILE: pki.adminTokenFile,
      },
      `${url(port)}/health`,
    );
  // only B is live: Welcome places the replica there
  await startSentinel("B", portB);
  await start("replica:r1", binOf("services", "math-agent"), {
    ...nodeEnv,
    FAME_REQUESTED_LOGICALS: "*.fame.fabric",
    FAME_REPLICA_NAME: "r1",
  });
  sentinelA = await startSentinel("A", portA);
}, 120_000);

afterAll(async () => {
  for (const c of clients.splice(0)) await c.close();
  const pids = procs.map((p) => p.pid);
  for (const p of [...procs].reverse()) await p.stop("SIGTERM", 5000);
  await stopAll();
  await nats?.stop();
  pki?.remove();
  for (const pid of pids) expect(pidAlive(pid)).toBe(false);
});

describe("routing between sentinels (real processes, NATS)", () => {
  it("serves a client on sentinel A from the replica on sentinel B over one encrypted channel", async () => {
    // A has no node yet, B has the replica: the client goes to the least loaded, A
    await expect.poll(async () => (await status("A")).cluster?.remoteNodes, { timeout: 15_000 }).toBe(1);
    const f = await connectFabric({
      config: nodeConfigFromEnv(clientEnv),
      logger: quietLogger(),
      installDefault: false,
    });
    clients.push(f);
    // the client is attached to A, the replica to B
    expect((await status("A")).nodes?.map((n) => n.name ?? "")).toEqual([expect.not.stringMatching(/^r1$/)]);
    expect((await status("B")).nodes?.map((n) => n.name)).toEqual(["r1"]);
    const math = Agent.remoteByAddress<MathApi>("math@fame.fabric", {
      endpoint: f.endpoint,
      idempotent: ["add", "whoami"],
    });
    expect((await math.whoami()).replica).toBe("r1");
    for (let i = 0; i < 50; i++) expect(await math.add({ x: i, y: 2 })).toBe(i + 2);
    expect(f.node.channels.metrics.opened).toBe(1);
    const a = await status("A");
    const b = await status("B");
    // the client's sentinel pinned the channel and routed it; both forwarded to each other
    expect(a.stickiness?.pinsCreated).toBe(1);
    expect(a.stickiness?.hits).toBeGreaterThanOrEqual(50);
    expect(a.cluster?.forwardedOut).toBeGreaterThanOrEqual(52);
    expect(b.cluster?.forwardedOut).toBeGreaterThanOrEqual(52);
    expect(a.cluster?.badIn).toBe(0);
    expect(b.cluster?.badIn).toBe(0);
    client = { f, math };
  });

  it("continues the channel on the same replica when the client's sentinel dies, with no new handshake", async () => {
    const { f, math } = client!;
    await sentinelA.stop("SIGKILL");
    // the SDK re-admits (same systemId, same sid) and attaches to B; its idempotent call is resent
    expect(await math.add({ x: 40, y: 2 })).toBe(42);
    expect((await math.whoami()).replica).toBe("r1");
    expect(f.node.channels.metrics.opened).toBe(1);
    const b = await status("B");
    expect(b.nodes?.length).toBe(2);
    // B had no pin of its own for the channel: it read the one A recorded
    expect(b.stickiness?.pinsCreated).toBe(1);
  });
});
