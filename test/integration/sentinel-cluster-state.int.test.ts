import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { requestJson, requestRaw } from "@fame/http-service/client";
import { generateSigningKey, publicJwks, type SigningKey, signAttachTicket } from "@fame/identity";
import {
  binOf,
  createTestPki,
  freePorts,
  type NatsCluster,
  REPO_ROOT,
  type RunningProcess,
  startNatsCluster,
  startProcess,
  type TestPki,
} from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Attacker } from "../adversarial/support/attacker.js";

/**
 * Two sentinels of one cluster on a real 3-node JetStream nats-server cluster (token auth),
 * real TLS, tickets signed by a Welcome key the test holds: the state-bound parts of a cluster
 * sentinel — tickets spent once cluster-wide, and one active member of a single-active pool
 * with a NATS node down.
 */
const CLUSTER = "itstate";
const ISSUER = "https://welcome.itstate.test";
const DB = "db@fame.fabric";
const KV = "kv@fame.fabric";

interface Sentinel {
  id: string;
  proc: RunningProcess;
  url: string;
  attachUrl: string;
}

interface PoolView {
  address: string;
  active?: string | null;
}

let pki: TestPki;
let nats: NatsCluster;
let welcomeKey: SigningKey;
const sentinels: Sentinel[] = [];
const nodes: Attacker[] = [];

async function startSentinel(id: string, port: number, env: Record<string, string>): Promise<Sentinel> {
  const url = `https://127.0.0.1:${port}`;
  const attachUrl = `wss://127.0.0.1:${port}/fame/v1/attach/ws/downstream`;
  const proc = await startProcess({
    name: `sentinel:${id}`,
    script: binOf("packages", "sentinel"),
    cwd: REPO_ROOT,
    env: { ...env, FAME_NODE_ID: id, FAME_SENTINEL_PORT: String(port), FAME_PUBLIC_URL: attachUrl },
    readyUrl: `${url}/health`,
    ca: pki.trustBundle,
    readyTimeoutMs: 30_000,
  });
  return { id, proc, url, attachUrl };
}

const status = (s: Sentinel) =>
  requestJson(`${s.url}/fame/v1/status`, {
    ca: pki.trustBundle,
    headers: { authorization: `Bearer ${pki.adminToken}` },
  }) as Promise<{ distribution: PoolView[]; state: { status: string; backend: string } }>;

async function ticketFor(systemId: string, instanceId = `i_${systemId}`): Promise<string> {
  const { token } = await signAttachTicket(welcomeKey, {
    issuer: ISSUER,
    audience: `fame-cluster:${CLUSTER}`,
    ttlSec: 60,
    systemId,
    instanceId,
    assignedPath: `/${CLUSTER}/${systemId}`,
    acceptedLogicals: ["*.fame.fabric"],
  });
  return token;
}

async function connect(s: Sentinel): Promise<Attacker> {
  const node = await Attacker.connect({ url: s.attachUrl, ca: pki.trustBundle });
  nodes.push(node);
  return node;
}

/** polls `read` (bounded) until `ok` holds for its value */
async function eventually<T>(
  read: () => Promise<T>,
  ok: (v: T) => boolean,
  ms = 15_000,
  pauseMs = 100,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, pauseMs));
  }
}

/**
 * Attaches `systemId` with a fresh ticket, again while the sentinel answers state_unavailable:
 * while JetStream moves a stream leader off a dead node, writes fail for a moment (a node
 * tries again with a new ticket, as the SDK does). Any other refusal fails the test.
 */
async function attachRetrying(s: Sentinel, systemId: string, logicals: string[] = []): Promise<Attacker> {
  let refusedFor = 0;
  const node = await eventually(
    async () => {
      const n = await connect(s);
      const ack = await n.attach({ systemId, logicals, attachTicket: await ticketFor(systemId) });
      if (ack.ok) return n;
      expect(ack.code).toBe("state_unavailable");
      refusedFor++;
      n.terminate();
      return undefined;
    },
    (n) => n !== undefined,
    30_000,
    250,
  );
  if (refusedFor > 0)
    process.stderr.write(`${systemId}: state_unavailable ${refusedFor} time(s) before attaching\n`);
  return node!;
}

beforeAll(async () => {
  pki = await createTestPki("fame-cluster-state");
  const token = randomBytes(24).toString("base64url");
  nats = await startNatsCluster(3, { token });
  welcomeKey = await generateSigningKey();
  const jwksFile = join(pki.dir, "welcome-jwks.json");
  writeFileSync(jwksFile, JSON.stringify(publicJwks([welcomeKey])));
  const tokenFile = join(pki.dir, "secrets", "nats-token");
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  const config = join(pki.dir, "cluster-sentinel.yml");
  writeFileSync(
    config,
    `node:\n  type: Sentinel\n  pools:\n    - address: ${DB}\n      mode: single-active\n    - address: ${KV}\n      affinity: session\n`,
  );
  const env = {
    ...pki.env,
    FAME_CONFIG: config,
    FAME_SECURITY_PROFILE: "open",
    FAME_ADMISSION_PROFILE: "welcome",
    FAME_WELCOME_JWKS_FILE: jwksFile,
    FAME_WELCOME_ISSUER: ISSUER,
    FAME_STORAGE_PROFILE: "nats",
    FAME_NATS_URL: nats.url,
    FAME_NATS_REPLICAS: "3",
    FAME_NATS_TOKEN_FILE: tokenFile,
    FAME_CLUSTER_ID: CLUSTER,
    FAME_SENTINEL_ADMIN_TOKEN_FILE: pki.adminTokenFile,
    FAME_LOG_LEVEL: "info",
    // every raw node of this test dials from 127.0.0.1, again and again while JetStream elects
    // new leaders: the per-IP upgrade limit is not what is tested here
    FAME_ATTACH_RATE_PER_MIN: "1200",
    // the raw nodes here send no heartbeats: keep them attached through the test
    FAME_HEARTBEAT_MS: "60000",
  };
  const [pa, pb] = (await freePorts(2)) as [number, number];
  sentinels.push(await startSentinel("sa", pa, env), await startSentinel("sb", pb, env));
}, 120_000);

afterAll(async () => {
  if (process.env["FAME_DUMP_LOGS"])
    for (const s of sentinels) process.stderr.write(`--- ${s.id}\n${s.proc.output()}\n`);
  for (const n of nodes) n.terminate();
  for (const s of sentinels) await s.proc.stop("SIGTERM", 5000);
  await nats?.stop();
  pki?.remove();
});

describe("a cluster's sentinels share tickets and elections through NATS", () => {
  it("reports the nats backend as ok in status and /health", async () => {
    const [a] = sentinels as [Sentinel];
    expect((await status(a)).state).toMatchObject({ backend: "nats", status: "ok" });
    const health = (await requestJson(`${a.url}/health`, { ca: pki.trustBundle })) as Record<string, unknown>;
    expect(health["state"]).toEqual({ backend: "nats", status: "ok" });
  });

  it("a ticket spent at one sentinel is refused at the other (ticket_replayed)", async () => {
    const [a, b] = sentinels as [Sentinel, Sentinel];
    const ticket = await ticketFor("n_ticket");
    const first = await connect(a);
    expect(await first.attach({ systemId: "n_ticket", attachTicket: ticket })).toMatchObject({
      ok: true,
      assignedPath: `/${CLUSTER}/n_ticket`,
    });
    const replayed = await connect(b);
    expect(await replayed.attach({ systemId: "n_ticket", attachTicket: ticket })).toMatchObject({
      ok: false,
      code: "ticket_replayed",
    });
    // a fresh ticket for the same node works at the other sentinel, under the same path
    const moved = await connect(b);
    expect(
      await moved.attach({ systemId: "n_ticket", attachTicket: await ticketFor("n_ticket") }),
    ).toMatchObject({ ok: true, assignedPath: `/${CLUSTER}/n_ticket` });
  });

  it("a session placed through one sentinel goes to the same replica through the other", async () => {
    const [a, b] = sentinels as [Sentinel, Sentinel];
    const replicas: Attacker[] = [];
    for (const [s, id] of [
      [a, "kv_r1"],
      [a, "kv_r2"],
      [b, "kv_r3"],
    ] as const) {
      const r = await attachRetrying(s, id, ["*.fame.fabric"]);
      const bind = await r.send({ frame: { type: "AddressBind", address: KV } });
      await r.waitFor((e) => e.frame.type === "AddressBindAck" && e.corrId === bind.id);
      replicas.push(r);
    }
    const sessions = ["S1", "S2", "S3", "S4", "S5", "S6"];
    const receiverOf = async (corrId: string): Promise<string> => {
      const got = await Promise.race(
        replicas.map((r, i) =>
          r
            .waitFor((e) => e.frame.type === "Data" && e.corrId === corrId, 10_000)
            .then(
              () => `kv_r${i + 1}`,
              () => "none",
            ),
        ),
      );
      return got;
    };
    const callAll = async (c: Attacker, tag: string): Promise<string[]> => {
      const out: string[] = [];
      for (const sid of sessions) {
        const corrId = `${tag}_${sid}`;
        await c.send({
          to: KV,
          replyTo: c.replyTo,
          corrId,
          meta: { "session-id": sid },
          frame: { type: "Data", codec: "json", payload: { jsonrpc: "2.0", id: corrId, method: "get" } },
        });
        out.push(await receiverOf(corrId));
      }
      return out;
    };
    // every sentinel must know all three replicas before the sessions are placed
    await eventually(
      async () => Promise.all([status(a), status(b)]),
      (views) =>
        views.every(
          (v) =>
            (v.distribution.find((p) => p.address === KV) as { replicas?: unknown[] })?.replicas?.length ===
            3,
        ),
    );
    const viaA = await callAll(await attachRetrying(a, "kv_client"), "a");
    expect(viaA).not.toContain("none");
    // the same node (same principal and instance, new ticket) moves to the other sentinel
    const viaB = await callAll(await attachRetrying(b, "kv_client"), "b");
    expect(viaB).toEqual(viaA);
    // found in the shared store, not placed again by B's own (load-dependent) choice
    const atB = (await status(b)).distribution.find((p) => p.address === KV) as unknown as {
      counters: { stickyHits: number; stickyMisses: number; stickyViolations: number };
    };
    expect(atB.counters).toMatchObject({ stickyHits: 6, stickyMisses: 0, stickyViolations: 0 });
    process.stderr.write(`session placements: ${JSON.stringify(viaA)}\n`);
    // another client naming one of those sessions is refused at either sentinel
    const mallory = await attachRetrying(b, "kv_mallory");
    const req = await mallory.send({
      to: KV,
      replyTo: mallory.replyTo,
      corrId: "m1",
      meta: { "session-id": "S1" },
      frame: { type: "Data", codec: "json", payload: { jsonrpc: "2.0", id: "m1", method: "get" } },
    });
    const nack = await mallory.nackFor(req.id);
    expect(nack.frame.type === "DeliveryAck" && nack.frame.code).toBe("session_not_owned");
  }, 60_000);

  it("the operator drains a node through the other sentinel: its own sentinel drains it", async () => {
    const [a, b] = sentinels as [Sentinel, Sentinel];
    const node = await attachRetrying(a, "drain_me", ["*.fame.fabric"]);
    const bind = await node.send({ frame: { type: "AddressBind", address: KV } });
    await node.waitFor((e) => e.frame.type === "AddressBindAck" && e.corrId === bind.id);
    const drain = (s: Sentinel, systemId: string) =>
      requestRaw(`${s.url}/fame/v1/nodes/${systemId}/drain`, {
        method: "POST",
        ca: pki.trustBundle,
        headers: { authorization: `Bearer ${pki.adminToken}` },
      });
    // B learns of the node from the directory, then forwards the request to A
    const accepted = await eventually(
      () => drain(b, "drain_me"),
      (r) => r.status !== 404,
    );
    expect(accepted.status).toBe(202);
    expect(JSON.parse(accepted.body.toString())).toMatchObject({
      ok: true,
      draining: true,
      sentinelId: "sa",
    });
    const nodesAt = async (s: Sentinel) =>
      ((await status(s)) as unknown as { nodes: { systemId: string; draining: boolean }[] }).nodes;
    await eventually(
      () => nodesAt(a),
      (ns) => ns.find((n) => n.systemId === "drain_me")?.draining === true,
    );
    expect((await drain(b, "nobody_here")).status).toBe(404);
    // the CLI, asked at B for a node attached to A, reports the drain (exit 0), not HTTP 202
    const other = await attachRetrying(a, "drain_me_too", ["*.fame.fabric"]);
    const bound = await other.send({ frame: { type: "AddressBind", address: KV } });
    await other.waitFor((e) => e.frame.type === "AddressBindAck" && e.corrId === bound.id);
    const fameDrain = async () =>
      spawnSync(
        process.execPath,
        [join(REPO_ROOT, "packages", "cli", "dist", "bin.js"), "drain", "drain_me_too", "--url", b.url],
        {
          encoding: "utf8",
          timeout: 30_000,
          env: {
            PATH: process.env["PATH"] ?? "",
            FAME_CA_CERTS: pki.env.FAME_CA_CERTS,
            FAME_SENTINEL_ADMIN_TOKEN_FILE: pki.adminTokenFile,
          },
        },
      );
    // until B has the node's directory record, it answers 404 (exit 1)
    const cli = await eventually(fameDrain, (r) => r.status !== 1 || !r.stderr.includes("no attached node"));
    expect(cli.status, cli.stderr).toBe(0);
    expect(cli.stdout).toContain("draining drain_me_too: asked its sentinel sa");
    await eventually(
      () => nodesAt(a),
      (ns) => ns.find((n) => n.systemId === "drain_me_too")?.draining === true,
    );
  }, 60_000);

  it("a drained node that re-attaches to the other sentinel is draining there too (audit round 11)", async () => {
    const [a, b] = sentinels as [Sentinel, Sentinel];
    const post = (s: Sentinel, systemId: string, action: "drain" | "resume") =>
      requestRaw(`${s.url}/fame/v1/nodes/${systemId}/${action}`, {
        method: "POST",
        ca: pki.trustBundle,
        headers: { authorization: `Bearer ${pki.adminToken}` },
      });
    // the pool's members as a sentinel routes to them: attached there or elsewhere
    const drainingAt = async (s: Sentinel) =>
      (
        (await status(s)).distribution.find((p) => p.address === KV) as unknown as
          | { replicas: { id: string; draining: boolean }[] }
          | undefined
      )?.replicas.find((r) => r.id === "evader")?.draining;
    const node = await attachRetrying(a, "evader", ["*.fame.fabric"]);
    const bind = await node.send({ frame: { type: "AddressBind", address: KV } });
    await node.waitFor((e) => e.frame.type === "AddressBindAck" && e.corrId === bind.id);
    expect((await post(a, "evader", "drain")).status).toBe(200);
    // the node drops its link and attaches to the other sentinel with a fresh ticket
    node.terminate();
    await eventually(
      () => drainingAt(a),
      (d) => d === undefined,
    );
    const again = await attachRetrying(b, "evader", ["*.fame.fabric"]);
    const bind2 = await again.send({ frame: { type: "AddressBind", address: KV } });
    await again.waitFor((e) => e.frame.type === "AddressBindAck" && e.corrId === bind2.id);
    expect(await drainingAt(b)).toBe(true);
    // and every sentinel sees it draining through its directory record
    await eventually(
      () => drainingAt(a),
      (d) => d === true,
    );
    // resumed through the first sentinel: its own (now the second) resumes it
    const resumed = await post(a, "evader", "resume");
    expect([200, 202]).toContain(resumed.status);
    await eventually(
      () => drainingAt(b),
      (d) => d === false,
    );
  }, 60_000);

  it("with one of 3 NATS nodes down, exactly one replica of a single-active pool is active across both sentinels", async () => {
    const [a, b] = sentinels as [Sentinel, Sentinel];
    await nats.kill(2);
    const replicaOn = async (s: Sentinel, systemId: string): Promise<Attacker> => {
      const r = await attachRetrying(s, systemId, ["*.fame.fabric"]);
      const bind = await r.send({ frame: { type: "AddressBind", address: DB } });
      await r.waitFor((e) => e.frame.type === "AddressBindAck" && e.corrId === bind.id);
      return r;
    };
    const r1 = await replicaOn(a, "db_r1");
    const r2 = await replicaOn(b, "db_r2");
    const activeAt = async (s: Sentinel) =>
      (await status(s)).distribution.find((p) => p.address === DB)?.active;
    const holder = await eventually(
      async () => [await activeAt(a), await activeAt(b)] as const,
      ([x, y]) => typeof x === "string" && x === y,
      // JetStream (2.9) takes several seconds to move stream leaders off the dead node
      40_000,
    );
    expect(["db_r1", "db_r2"]).toContain(holder[0]);
    const [active, standby] = holder[0] === "db_r1" ? [r1, r2] : [r2, r1];
    // clients on both sentinels call the pool: only the holder ever takes a call
    const callers = [await attachRetrying(a, "db_c0"), await attachRetrying(b, "db_c1")];
    const holderSide = holder[0] === "db_r1" ? 0 : 1;
    const outcomes: string[] = [];
    for (let k = 0; k < 6; k++) {
      for (const [i, c] of callers.entries()) {
        const corrId = `q${k}_c${i}`;
        const req = await c.send({
          to: DB,
          replyTo: c.replyTo,
          corrId,
          frame: { type: "Data", codec: "json", payload: { jsonrpc: "2.0", id: k, method: "ping" } },
        });
        const outcome = await Promise.race([
          active
            .waitFor((e) => e.frame.type === "Data" && e.corrId === corrId)
            .then(
              () => "delivered",
              () => "nothing",
            ),
          c.nackFor(req.id).then(
            (e) => (e.frame.type === "DeliveryAck" ? (e.frame.code ?? "nack") : "nack"),
            () => "nothing",
          ),
        ]);
        // the holder's own sentinel delivers; the other forwards to it or says NOT_ACTIVE, never elects its own
        if (i === holderSide) expect(outcome).toBe("delivered");
        else expect(["delivered", "NOT_ACTIVE"]).toContain(outcome);
        outcomes.push(outcome);
      }
    }
    process.stderr.write(`single-active calls: ${JSON.stringify(outcomes)}\n`);
    expect(standby.received.filter((e) => e.frame.type === "Data")).toHaveLength(0);
    // the lease keeps being renewed with the NATS node still down: the holder does not change
    await new Promise((r) => setTimeout(r, 3500));
    expect([await activeAt(a), await activeAt(b)]).toEqual([holder[0], holder[0]]);
    await nats.restart(2);
  }, 90_000);

  it("the JetStream meta leader dies and comes back: both sentinels take new work again", async () => {
    const [a, b] = sentinels as [Sentinel, Sentinel];
    // the last test restarted a node: both sentinels are current again before this one starts
    for (const s of [a, b])
      await eventually(
        async () => (await status(s)).state.status,
        (x) => x === "ok",
        40_000,
      );
    const leader = await metaLeader();
    const i = nats.nodes.findIndex((n) => n.name === leader);
    expect(i).toBeGreaterThanOrEqual(0);
    await nats.kill(i);
    // the survivors elect a new meta leader; state calls fail meanwhile, then answer again
    await eventually(metaLeader, (l) => l !== undefined && l !== leader, 40_000, 250);
    await nats.restart(i);
    for (const s of [a, b]) {
      const st = await eventually(
        async () => (await status(s)).state.status,
        (x) => x === "ok",
        40_000,
        250,
      );
      expect(st).toBe("ok");
    }
    // and the state works, not only says so: a ticket is spent once across both sentinels
    const first = await attachRetrying(a, "n_meta");
    expect(first.sid).not.toBe("");
    const replayed = await connect(b);
    const ticket = await ticketFor("n_meta_again");
    expect(await replayed.attach({ systemId: "n_meta_again", attachTicket: ticket })).toMatchObject({
      ok: true,
    });
    const again = await connect(a);
    expect(await again.attach({ systemId: "n_meta_again", attachTicket: ticket })).toMatchObject({
      ok: false,
      code: "ticket_replayed",
    });
  }, 150_000);
});

/** the JetStream meta leader's server name, as the first live node sees it */
async function metaLeader(): Promise<string | undefined> {
  for (const n of nats.nodes) {
    if (n.pid === undefined) continue;
    try {
      const jsz = (await requestJson(`http://127.0.0.1:${n.monitorPort}/jsz`)) as {
        meta_cluster?: { leader?: string };
      };
      return jsz.meta_cluster?.leader || undefined;
    } catch {
      // that node is down or starting: ask the next
    }
  }
  return undefined;
}
