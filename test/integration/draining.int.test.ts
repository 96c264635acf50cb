import { requestJson } from "@fame/http-service/client";
import type { Fabric } from "@fame/sdk";
import { type FabricStack, startFabricStack } from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestClients, tearDown } from "../support/fabric-clients.js";

/**
 * Issue 5 §5: SIGTERM on a replica drains it. It tells the sentinel (Drain),
 * gets no new channels, keeps serving the channels pinned to it while their
 * clients still call, then detaches and exits 0 once they have gone quiet.
 */
interface MathApi {
  add(p: { x: number; y: number }): Promise<number>;
  whoami(): Promise<{ replica: string }>;
}

let stack: FabricStack;
const clients = new TestClients(() => stack);

async function client(): Promise<{ f: Fabric; math: MathApi }> {
  const { f, api } = await clients.remote<MathApi>("math@fame.fabric", { idempotent: ["add", "whoami"] });
  return { f, math: api };
}

interface Status {
  nodes: { systemId: string; draining: boolean }[];
}

beforeAll(async () => {
  stack = await startFabricStack({ securityProfile: "strict-overlay", encryption: "channel" });
  // A drain bound well past runMain's default 10 s force-exit: the quiet period, not a timer, must end it.
  await stack.startReplica("replicaA", { FAME_DRAIN_TIMEOUT_MS: "30000", FAME_DRAIN_QUIET_MS: "1500" });
  await stack.startReplica("replicaB");
}, 120_000);

afterAll(() => tearDown(stack, clients));

describe("draining a replica with SIGTERM", () => {
  it("keeps pinned channels working, sends new channels elsewhere, then exits 0", async () => {
    const a = stack.replicas.get("replicaA")!;
    // a client whose channel is pinned to A (round robin: one of the first few)
    let pinned: { f: Fabric; math: MathApi } | undefined;
    for (let i = 0; i < 6 && !pinned; i++) {
      const c = await client();
      if ((await c.math.whoami()).replica === "replicaA") pinned = c;
    }
    if (!pinned) throw new Error("no client landed on replicaA");
    const math = pinned.math;

    // the pinned client keeps calling throughout
    let draining = false;
    let stop = false;
    let callsInDrain = 0;
    const failures: string[] = [];
    const servedBy = new Set<string>();
    const loop = (async () => {
      for (let i = 0; i < 100_000 && !stop; i++) {
        try {
          const got = await math.add({ x: i, y: 1 });
          if (got !== i + 1) failures.push(`add(${i}, 1) = ${got}`);
          if (draining) {
            servedBy.add((await math.whoami()).replica);
            callsInDrain++;
          }
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    })();

    a.child.kill("SIGTERM");
    await a.waitForOutput(/"msg":"draining"/);
    // the sentinel has marked one node draining: A
    await expect
      .poll(
        async () =>
          (
            await requestJson<Status>(`${stack.urls.sentinel}/fame/v1/status`, {
              ca: stack.trustBundle,
              headers: stack.adminHeaders,
            })
          ).nodes.filter((n) => n.draining).length,
      )
      .toBe(1);
    draining = true;

    // new clients get their channels on B only
    for (let i = 0; i < 3; i++) {
      const fresh = await client();
      expect((await fresh.math.whoami()).replica).toBe("replicaB");
    }

    // the pinned channel keeps being served by A meanwhile
    await expect.poll(() => callsInDrain, { timeout: 20_000 }).toBeGreaterThanOrEqual(20);
    stop = true;
    await loop;
    expect(failures).toEqual([]);
    expect([...servedBy]).toEqual(["replicaA"]);

    // quiet now: A finishes its drain, detaches and exits cleanly, before its 30 s bound
    expect(await a.exited).toBe(0);
    expect(a.output()).toMatch(/"outcome":"idle"/);
    expect(a.output()).not.toMatch(/forcing exit/);

    // and the pinned client carries on with B
    expect((await math.whoami()).replica).toBe("replicaB");
  }, 120_000);
});
