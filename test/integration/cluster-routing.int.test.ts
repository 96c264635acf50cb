import { Agent, connectFabric, type Fabric, nodeConfigFromEnv } from "@fame/sdk";
import { type ClusterStack, pidAlive, type RunningProcess, startClusterStack, stopAll } from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { quietLogger } from "../support/fabric-clients.js";

/**
 * Routing between sentinels with real processes: nats-server (JetStream), the identity
 * services in cluster mode, sentinels A and B sharing the state. The replica attaches while
 * only B is up (Welcome places it there), the client while A is the least loaded: its
 * encrypted channel to the replica crosses sentinels both ways: on direct TLS links between
 * the sentinels (token offered over NATS), over NATS subjects while a link is not open.
 */

interface MathApi {
  add(p: { x: number; y: number }): Promise<number>;
  whoami(): Promise<{ replica: string }>;
}

interface Status {
  nodes?: { systemId: string; name?: string }[];
  stickiness?: { pinsCreated: number; hits: number };
  cluster?: {
    remoteNodes: number;
    forwardedOut: number;
    forwardedIn: number;
    badIn: number;
    links?: { linked: string[]; directOut: number; busOut: number; refused: number };
  };
}

let stack: ClusterStack;
const clients: Fabric[] = [];
let sentinelA: RunningProcess;
let client: { f: Fabric; math: MathApi } | undefined;

const status = (id: string) => stack.status<Status>(id);

beforeAll(async () => {
  stack = await startClusterStack({ name: "fame-cluster-routing" });
  // only B is live: Welcome places the replica there
  await stack.startSentinel("B");
  await stack.welcomeSees(1);
  await stack.startReplica("r1");
  sentinelA = (await stack.startSentinel("A")).proc;
  await stack.welcomeSees(2);
}, 120_000);

afterAll(async () => {
  for (const c of clients.splice(0)) await c.close();
  const pids = stack?.allPids() ?? [];
  await stack?.stop();
  await stopAll();
  for (const pid of pids) expect(pidAlive(pid)).toBe(false);
});

describe("routing between sentinels (real processes, NATS)", () => {
  it("serves a client on sentinel A from the replica on sentinel B over one encrypted channel", async () => {
    // A has no node yet, B has the replica: the client goes to the least loaded, A
    await expect.poll(async () => (await status("A")).cluster?.remoteNodes, { timeout: 15_000 }).toBe(1);
    const f = await connectFabric({
      config: nodeConfigFromEnv(stack.clientEnv),
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
    // both sentinels dialled each other when they saw each other in the registry: the calls
    // crossed on the direct links (the first messages may have gone over NATS)
    expect(a.cluster?.links?.linked).toEqual(["B"]);
    expect(b.cluster?.links?.linked).toEqual(["A"]);
    expect(a.cluster?.links?.directOut).toBeGreaterThanOrEqual(50);
    expect(b.cluster?.links?.directOut).toBeGreaterThanOrEqual(50);
    expect(a.cluster?.links?.refused).toBe(0);
    client = { f, math };
  });

  it("refuses a sentinel link to anyone without a token offered over NATS; the client is served throughout", async () => {
    const { math } = client!;
    const b = stack.sentinels.get("B")!;
    const linkUrl = b.attach.replace(/\/fame\/v1\/attach\/ws\/downstream$/, "/fame/v1/cluster/link");
    // an insider (an admitted node knows the attach URL) poses as sentinel A with a guessed token
    const attempt = (headers: Record<string, string>) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(linkUrl, { ca: stack.pki.trustBundle, headers });
        ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
        ws.on("open", () => {
          ws.close();
          resolve(101);
        });
        ws.on("error", () => resolve(-1));
      });
    const calls = Promise.all(Array.from({ length: 20 }, (_, i) => math.add({ x: i, y: 1 })));
    expect(await attempt({ "x-fame-sentinel": "A", authorization: `Bearer ${"A".repeat(43)}` })).toBe(401);
    expect(await attempt({ "x-fame-sentinel": "A" })).toBe(401);
    expect(await calls).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const after = await status("B");
    expect(after.cluster?.links?.refused).toBe(2);
    expect(after.cluster?.links?.linked).toEqual(["A"]);
    expect(after.cluster?.badIn).toBe(0);
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
