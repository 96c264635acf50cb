import { Writable } from "node:stream";
import { createLogger } from "@fame/logger";
import { Agent, connectFabric, type Fabric, nodeConfigFromEnv, type RpcError } from "@fame/sdk";
import { type FabricState, openFabricState } from "@fame/state";
import { type ClusterStack, pidAlive, type RunningProcess, startClusterStack, stopAll } from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * Node failover between the sentinels of a cluster, all real processes: a JetStream
 * nats-server, OAuth2, Welcome and the CA in cluster mode, three sentinels sharing the state,
 * one math replica and clients in this process. SIGKILL the client's sentinel: the client
 * re-admits (same systemId, so same sid), attaches to another sentinel, and its channel goes
 * on with the same replica, no new handshake; idempotent calls see no failure, a
 * non-idempotent one in flight fails with a clear code and runs once. SIGKILL the replica's
 * sentinel: the replica re-attaches elsewhere and keeps serving its pinned channels.
 */
const SENTINELS = ["sa", "sb", "sc"] as const;

interface MathApi {
  add(p: { x: number; y: number }): Promise<number>;
  whoami(): Promise<{ replica: string }>;
  sleep(p: { ms: number }): Promise<number>;
}

const quiet = createLogger({
  name: "it-failover",
  level: "warn",
  destination: new Writable({ write: (_c, _e, cb) => cb() }),
});
let stack: ClusterStack;
let replica: RunningProcess;
let client: Fabric;
/** the cluster's shared state as a reader: which nodes the sentinels know */
let state: FabricState;

beforeAll(async () => {
  stack = await startClusterStack({ clusterId: "itfail", name: "fame-cluster-failover" });
  for (const id of SENTINELS) await stack.startSentinel(id);
  // Welcome places nodes only on sentinels it has seen advertise
  await stack.welcomeSees(SENTINELS.length);
  state = await openFabricState(stack.stateSettings, quiet, { name: "it-reader" });
  replica = await stack.startReplica("r1");
  // Welcome ranks sentinels by their adverts' node counts: once the replica's sentinel
  // advertises it, the client goes elsewhere (before that, a fresh advert could still say 0)
  for (let i = 0; i < 300 && state.registry.live().reduce((n, s) => n + s.nodes, 0) < 1; i++)
    await new Promise((r) => setTimeout(r, 50));
  client = await connectFabric({
    config: nodeConfigFromEnv(stack.nodeEnv),
    logger: quiet,
    installDefault: false,
  });
}, 120_000);

afterAll(async () => {
  await client?.close();
  await state?.close();
  const pids = stack?.allPids() ?? [];
  await stack?.stop();
  await stopAll();
  for (const pid of pids) expect(pidAlive(pid)).toBe(false);
});

/** the sentinel (id) whose attach URL a node's log last named in "attached to sentinel" */
function sentinelOf(output: string): string | undefined {
  const lines = output.split("\n").filter((l) => l.includes('"msg":"attached to sentinel"'));
  const last = lines.at(-1);
  if (last === undefined) return undefined;
  const url = (JSON.parse(last) as { sentinel?: string }).sentinel;
  return stack.sentinelAt(url)?.id;
}

/** the systemId a node's log last named in "attached to sentinel" */
function systemIdOf(output: string): string | undefined {
  const lines = output.split("\n").filter((l) => l.includes('"msg":"attached to sentinel"'));
  const last = lines.at(-1);
  return last === undefined ? undefined : (JSON.parse(last) as { systemId?: string }).systemId;
}

const clientSentinel = () => stack.sentinelAt(client.connection.sentinelUrl)?.id;
const served = (op: string) => (replica.output().match(new RegExp(`"op":"${op}"`, "g")) ?? []).length;

/**
 * Idempotent calls back to back while `disrupt` runs; returns failures and the longest gap
 * between two successful answers. Bounded by `calls`.
 */
async function callThrough(math: MathApi, calls: number, disruptAt: number, disrupt: () => Promise<void>) {
  let failures = 0;
  let maxGapMs = 0;
  let last = Date.now();
  let disruption: Promise<void> | undefined;
  for (let i = 0; i < calls; i++) {
    if (i === disruptAt) disruption = disrupt();
    try {
      expect(await math.add({ x: i, y: 1 })).toBe(i + 1);
      const now = Date.now();
      maxGapMs = Math.max(maxGapMs, now - last);
      last = now;
    } catch {
      failures++;
    }
  }
  await disruption;
  return { failures, maxGapMs };
}

describe("sentinel failover in a cluster", () => {
  let math: MathApi;
  let sid: string;

  it("the replica and the client are on different sentinels; the client's channel is pinned to the replica", async () => {
    // The first call right after connecting: the replica asks its sentinel for the client's
    // key, which waits (bounded) for the client's directory record written after its attach.
    math = Agent.remoteByAddress<MathApi>("math@fame.fabric", {
      endpoint: client.endpoint,
      idempotent: ["add", "whoami"],
      timeoutMs: 10_000,
    });
    expect((await math.whoami()).replica).toBe("r1");
    sid = client.connection.sid;
    expect(client.connection.path).toMatch(new RegExp(`^/${stack.clusterId}/[A-Za-z0-9]{22}$`));
    expect(sentinelOf(replica.output())).toBeDefined();
    expect(clientSentinel()).not.toBe(sentinelOf(replica.output()));
    expect(client.node.channels.metrics.opened).toBe(1);
  });

  it("SIGKILL of the client's sentinel: same sid on another sentinel, same channel, no failed idempotent call", async () => {
    const victim = clientSentinel()!;
    const kidBefore = client.connection.nodeSigner?.jwk.kid;
    const { failures, maxGapMs } = await callThrough(math, 200, 20, async () => {
      await stack.sentinels.get(victim)!.proc.stop("SIGKILL");
      await expect
        .poll(() => clientSentinel() !== victim && client.connection.state === "attached", {
          timeout: 15_000,
        })
        .toBe(true);
    });
    expect(client.connection.sid).toBe(sid);
    expect(failures).toBe(0);
    expect(maxGapMs).toBeLessThan(2000);
    // the channel kept its keys on both ends: no new SecureOpen
    expect(client.node.channels.metrics.opened).toBe(1);
    expect(client.node.channels.metrics.invalidated).toBe(0);
    // the re-admission kept the client's key and certificate (same identity, short of half its
    // lifetime): a new channel's signed SecureOpen reaches the replica, which checks that key
    // against the client's directory record, now written by its new sentinel
    expect(client.connection.nodeSigner?.jwk.kid).toBe(kidBefore);
    const session = Agent.remoteByAddress<MathApi>("math@fame.fabric", {
      endpoint: client.endpoint,
      sessionId: "after-failover",
      idempotent: ["whoami"],
      timeoutMs: 10_000,
    });
    expect((await session.whoami()).replica).toBe("r1");
    expect(client.node.channels.metrics.opened).toBe(2);
  });

  it("a non-idempotent call in flight when the client's sentinel dies fails with replica_unavailable and runs once", async () => {
    const victim = clientSentinel()!;
    // somewhere to go: the sentinels killed above come back first
    for (const s of stack.sentinels.values()) if (!pidAlive(s.proc.pid)) await stack.startSentinel(s.id);
    const plain = Agent.remoteByAddress<MathApi>("math@fame.fabric", {
      endpoint: client.endpoint,
      timeoutMs: 10_000,
    });
    const before = served("sleep");
    const call = plain.sleep({ ms: 1500 }).catch((e: unknown) => e);
    await expect.poll(() => served("sleep")).toBe(before + 1);
    await stack.sentinels.get(victim)!.proc.stop("SIGKILL");
    const err = (await call) as RpcError;
    expect(err.fameCode).toBe("replica_unavailable");
    expect(err.notExecuted).toBe(false);
    await expect
      .poll(() => client.connection.state === "attached" && clientSentinel() !== victim, { timeout: 15_000 })
      .toBe(true);
    expect(await math.add({ x: 1, y: 2 })).toBe(3);
    expect(served("sleep")).toBe(before + 1);
  });

  it("SIGKILL of the replica's sentinel: the replica re-attaches elsewhere and keeps serving the pinned channel", async () => {
    for (const s of stack.sentinels.values()) if (!pidAlive(s.proc.pid)) await stack.startSentinel(s.id);
    await stack.welcomeSees(SENTINELS.length);
    // A new client goes to the least loaded sentinel: one just restarted, never the replica's.
    const caller = await connectFabric({
      config: nodeConfigFromEnv(stack.nodeEnv),
      logger: quiet,
      installDefault: false,
    });
    try {
      const victim = sentinelOf(replica.output())!;
      const callerSentinel = stack.sentinelAt(caller.connection.sentinelUrl)?.id;
      expect(callerSentinel).toBeDefined();
      expect(callerSentinel).not.toBe(victim);
      const calc = Agent.remoteByAddress<MathApi>("math@fame.fabric", {
        endpoint: caller.endpoint,
        idempotent: ["add", "whoami"],
        timeoutMs: 10_000,
      });
      expect((await calc.whoami()).replica).toBe("r1");
      expect(caller.node.channels.metrics.opened).toBe(1);
      const replicaSid = state.directory.get(systemIdOf(replica.output())!)?.sid;
      expect(replicaSid).toBeDefined();

      const { failures, maxGapMs } = await callThrough(calc, 200, 20, async () => {
        await stack.sentinels.get(victim)!.proc.stop("SIGKILL");
        await expect
          .poll(() => sentinelOf(replica.output()) !== undefined && sentinelOf(replica.output()) !== victim, {
            timeout: 15_000,
          })
          .toBe(true);
      });
      expect(failures).toBe(0);
      expect(maxGapMs).toBeLessThan(2000);
      // the same replica (same sid, now attached elsewhere) answers on the same channel
      const moved = state.directory.get(systemIdOf(replica.output())!);
      expect(moved?.sid).toBe(replicaSid);
      expect(moved?.sentinelId).not.toBe(victim);
      expect((await calc.whoami()).replica).toBe("r1");
      expect(caller.node.channels.metrics.opened).toBe(1);
      expect(caller.node.channels.metrics.invalidated).toBe(0);
      expect(caller.connection.sentinelUrl).toBe(stack.sentinels.get(callerSentinel!)!.attach);
    } finally {
      await caller.close();
    }
  });
});
