import { Agent, connectFabric, type Fabric, nodeConfigFromEnv } from "@fame/sdk";
import { type ClusterStack, pidAlive, type RunningProcess, startClusterStack, stopAll } from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { quietLogger } from "../support/fabric-clients.js";

/**
 * The client and the replica on the same sentinel, which is SIGKILLed: both re-admit at once
 * and re-attach to the other sentinels (real processes: nats-server, identity services in
 * cluster mode, three sentinels). The replica's new record lists its addresses only one
 * directory write after its attach; a call resent in that window is not refused (whether a
 * run hits the window is timing: cluster-route.test.ts covers it deterministically).
 */

interface MathApi {
  add(p: { x: number; y: number }): Promise<number>;
  whoami(): Promise<{ replica: string }>;
}

let stack: ClusterStack;
let replica: RunningProcess;
let client: Fabric;

beforeAll(async () => {
  stack = await startClusterStack({ clusterId: "itcoloc", name: "fame-cluster-coloc" });
  // only A is live: Welcome places the replica and the client there
  await stack.startSentinel("A");
  await stack.welcomeSees(1);
  replica = await stack.startReplica("r1");
  client = await connectFabric({
    config: nodeConfigFromEnv(stack.clientEnv),
    logger: quietLogger(),
    installDefault: false,
  });
  await stack.startSentinel("B");
  await stack.startSentinel("C");
  await stack.welcomeSees(3);
}, 120_000);

afterAll(async () => {
  await client?.close();
  const pids = stack?.allPids() ?? [];
  await stack?.stop();
  await stopAll();
  for (const pid of pids) expect(pidAlive(pid)).toBe(false);
});

/** the sentinel a node's log last named in "attached to sentinel" */
function sentinelOf(output: string): string | undefined {
  const last = output
    .split("\n")
    .filter((l) => l.includes('"msg":"attached to sentinel"'))
    .at(-1);
  return last === undefined
    ? undefined
    : stack.sentinelAt((JSON.parse(last) as { sentinel?: string }).sentinel)?.id;
}

describe("SIGKILL of a sentinel holding both the client and the replica", () => {
  it("both move, the channel goes on with no failed idempotent call and no new handshake", async () => {
    const math = Agent.remoteByAddress<MathApi>("math@fame.fabric", {
      endpoint: client.endpoint,
      idempotent: ["add", "whoami"],
      timeoutMs: 1000,
    });
    expect((await math.whoami()).replica).toBe("r1");
    expect(stack.sentinelAt(client.connection.sentinelUrl)?.id).toBe("A");
    expect(sentinelOf(replica.output())).toBe("A");
    const sid = client.connection.sid;

    let failures = 0;
    let maxGapMs = 0;
    let last = Date.now();
    for (let i = 0; i < 100; i++) {
      // the next call leaves at once, before the client has noticed: it is in flight at the kill
      if (i === 10) process.kill(stack.sentinels.get("A")!.proc.pid, "SIGKILL");
      try {
        expect(await math.add({ x: i, y: 1 })).toBe(i + 1);
        maxGapMs = Math.max(maxGapMs, Date.now() - last);
        last = Date.now();
      } catch {
        failures++;
      }
    }
    expect(failures).toBe(0);
    expect(maxGapMs).toBeLessThan(2000);
    expect(client.connection.sid).toBe(sid);
    expect(stack.sentinelAt(client.connection.sentinelUrl)?.id).not.toBe("A");
    expect(sentinelOf(replica.output())).not.toBe("A");
    expect(client.node.channels.metrics.opened).toBe(1);
    expect(client.node.channels.metrics.invalidated).toBe(0);
  });
});
