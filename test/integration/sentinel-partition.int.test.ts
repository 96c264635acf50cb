import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { requestJson, requestRaw } from "@fame/http-service/client";
import { Agent, connectFabric, type Fabric, nodeConfigFromEnv, RpcError } from "@fame/sdk";
import {
  binOf,
  createTestPki,
  freePort,
  type NatsServer,
  REPO_ROOT,
  type RunningProcess,
  startNatsServer,
  startProcess,
  type TestPki,
} from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Attacker } from "../adversarial/support/attacker.js";
import { quietLogger } from "../support/fabric-clients.js";

/**
 * A cluster sentinel cut off from NATS (the server SIGKILLed under it): it refuses the new work
 * it could not record — attaches and channel opens answer state_unavailable — while a client's
 * pinned channel keeps calling its replica, says so in its status, and takes new work again by
 * itself once NATS is back. Real processes: nats-server, the sentinel (TLS), a math replica,
 * SDK clients in this process.
 */
interface MathApi {
  add(p: { x: number; y: number }): Promise<number>;
}

let pki: TestPki;
let nats: NatsServer;
let sentinel: RunningProcess;
let replica: RunningProcess;
let url = "";
let attachUrl = "";
const fabrics: Fabric[] = [];
const raws: Attacker[] = [];

const stateOf = async () =>
  (
    (await requestJson(`${url}/fame/v1/status`, {
      ca: pki.trustBundle,
      headers: { authorization: `Bearer ${pki.adminToken}` },
    })) as { state: { status: string; refused: Record<string, number>; outages: number } }
  ).state;

async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function client(nodeEnv: Record<string, string>): Promise<MathApi> {
  const f = await connectFabric({
    config: nodeConfigFromEnv({ ...nodeEnv, FAME_DEFAULT_ENCRYPTION_LEVEL: "channel" }),
    logger: quietLogger(),
    installDefault: false,
  });
  fabrics.push(f);
  return Agent.remoteByAddress<MathApi>("math@fame.fabric", { endpoint: f.endpoint });
}

async function rawAttach(systemId: string) {
  const node = await Attacker.connect({ url: attachUrl, ca: pki.trustBundle });
  raws.push(node);
  return node.attach({ systemId });
}

let nodeEnv: Record<string, string> = {};

beforeAll(async () => {
  pki = await createTestPki("fame-partition");
  nats = await startNatsServer();
  const port = await freePort();
  url = `https://127.0.0.1:${port}`;
  attachUrl = `wss://127.0.0.1:${port}/fame/v1/attach/ws/downstream`;
  const config = join(pki.dir, "no-config.yml");
  writeFileSync(config, "");
  const common = {
    ...pki.env,
    FAME_CONFIG: config,
    // signed envelopes and sealed channels; nodes bring their own keys (no Welcome, no CA)
    FAME_SECURITY_PROFILE: "overlay",
    FAME_ADMISSION_PROFILE: "none",
    FAME_LOG_LEVEL: "info",
  };
  sentinel = await startProcess({
    name: "sentinel:partition",
    script: binOf("packages", "sentinel"),
    cwd: REPO_ROOT,
    env: {
      ...common,
      FAME_NODE_ID: "sp",
      FAME_SENTINEL_PORT: String(port),
      FAME_PUBLIC_URL: attachUrl,
      FAME_STORAGE_PROFILE: "nats",
      FAME_NATS_URL: nats.url,
      FAME_CLUSTER_ID: "itpart",
      FAME_SENTINEL_ADMIN_TOKEN_FILE: pki.adminTokenFile,
    },
    readyUrl: `${url}/health`,
    ca: pki.trustBundle,
    readyTimeoutMs: 30_000,
  });
  nodeEnv = { ...common, FAME_SENTINEL_URL: attachUrl };
  replica = await startProcess({
    name: "replica:partition",
    script: binOf("services", "math-agent"),
    cwd: REPO_ROOT,
    env: { ...nodeEnv, FAME_REQUESTED_LOGICALS: "*.fame.fabric", FAME_REPLICA_NAME: "p1" },
    readyLine: /math agent ready/,
    readyTimeoutMs: 30_000,
  });
}, 120_000);

afterAll(async () => {
  if (process.env["FAME_DUMP_LOGS"])
    process.stderr.write(`--- sentinel\n${sentinel?.output()}\n--- replica\n${replica?.output()}\n`);
  for (const r of raws) r.terminate();
  for (const f of fabrics) await f.close();
  await replica?.stop("SIGTERM", 5000);
  await sentinel?.stop("SIGTERM", 5000);
  await nats?.stop();
  pki?.remove();
});

describe("a cluster sentinel partitioned from NATS", () => {
  it("refuses new attaches and channels with state_unavailable, keeps pinned calls flowing, and recovers", async () => {
    const legit = await client(nodeEnv);
    expect(await legit.add({ x: 1, y: 1 })).toBe(2); // its channel is open and pinned
    const late = await client(nodeEnv); // attached, but no channel yet
    expect(await stateOf()).toMatchObject({ status: "ok", outages: 0 });

    // a legitimate client calls on its pinned channel throughout
    const failures: string[] = [];
    let calls = 0;
    let running = true;
    const loop = (async () => {
      while (running) {
        const x = calls++;
        try {
          const sum = await legit.add({ x, y: 1 });
          if (sum !== x + 1) failures.push(`call ${x}: wrong answer ${sum}`);
        } catch (err) {
          failures.push(`call ${x}: ${(err as Error).message}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    await nats.kill();
    await eventually(stateOf, (s) => s.status === "unavailable");
    const before = calls;
    // refused before its keys are even looked at: nothing about the node could be recorded
    expect(await rawAttach("p_new1")).toMatchObject({ ok: false, code: "state_unavailable" });
    // a new channel cannot be pinned: the SDK retries state_unavailable, then reports it
    const refused = await late.add({ x: 1, y: 2 }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(RpcError);
    expect((refused as RpcError).fameCode).toBe("state_unavailable");
    // the pinned channel kept working meanwhile
    await eventually(
      async () => calls,
      (n) => n >= before + 10,
    );
    const during = await stateOf();
    expect(during.status).toBe("unavailable");
    // a load balancer's readiness check sends new connections elsewhere; liveness stays up
    const ready = () => requestRaw(`${url}/ready`, { ca: pki.trustBundle });
    expect((await ready()).status).toBe(503);
    expect((await requestRaw(`${url}/health`, { ca: pki.trustBundle })).status).toBe(200);
    expect(during.refused["attach"]).toBeGreaterThanOrEqual(1);
    expect(during.refused["open"]).toBeGreaterThanOrEqual(1);

    await nats.restart();
    await eventually(stateOf, (s) => s.status === "ok", 30_000);
    expect((await ready()).status).toBe(200);
    // new work again: a node attaches (the SDK signs its attach), the late client opens its channel
    const fresh = await client(nodeEnv);
    expect(await fresh.add({ x: 4, y: 4 })).toBe(8);
    expect(await late.add({ x: 2, y: 3 })).toBe(5);
    running = false;
    await loop;
    expect(failures).toEqual([]);
    expect(calls).toBeGreaterThan(before + 10);
    expect(await stateOf()).toMatchObject({ status: "ok", outages: 1 });
    const log = sentinel.output();
    expect(log.match(/shared state unavailable: refusing new/g)).toHaveLength(1);
    expect(log.match(/shared state available again: taking new/g)).toHaveLength(1);
  }, 120_000);
});
