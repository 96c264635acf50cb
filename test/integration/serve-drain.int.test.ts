import { join } from "node:path";
import { type FabricStack, REPO_ROOT, startFabricStack, startProcess } from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestClients, tearDown } from "../support/fabric-clients.js";

/**
 * Issue 17: serve() drains on SIGTERM by default. An agent that never mentions signals
 * (test/integration/fixtures/minimal-agent.mjs, the README's snippet in plain JS) is sent
 * SIGTERM while a call is in flight: the call is answered, and the process exits 0.
 */
let stack: FabricStack;
const clients = new TestClients(() => stack);

beforeAll(async () => {
  stack = await startFabricStack({ securityProfile: "strict-overlay", encryption: "channel" });
}, 120_000);

afterAll(() => tearDown(stack, clients));

describe("an agent written like the README's snippet", () => {
  it("answers the call in flight when SIGTERM comes, then exits 0", async () => {
    const agent = await startProcess({
      name: "minimal-agent",
      script: join(REPO_ROOT, "test/integration/fixtures/minimal-agent.mjs"),
      cwd: REPO_ROOT,
      env: { ...stack.nodeEnv, FAME_REQUESTED_LOGICALS: "*.fame.fabric", FAME_NODE_NAME: "sleepy-1" },
      readyLine: /minimal agent serving/,
      readyTimeoutMs: 30_000,
    });
    const { api } = await clients.remote<{ sleep(p: { ms: number }): Promise<number> }>("sleepy@fame.fabric");
    const call = api.sleep({ ms: 1500 });
    await agent.waitForOutput(/sleeping 1500/, 10_000);
    agent.child.kill("SIGTERM");
    expect(await call).toBe(1500);
    expect(await agent.exited).toBe(0);
    const out = agent.output();
    expect(out).toMatch(/"msg":"draining"/);
    expect(out).toMatch(/"signal":"SIGTERM"/);
    expect(out).toMatch(/"msg":"drained"/);
    expect(out).not.toMatch(/forcing exit/);
  }, 60_000);

  it("with nothing in flight, SIGINT drains it too and it leaves promptly with 0", async () => {
    const agent = await startProcess({
      name: "minimal-agent-idle",
      script: join(REPO_ROOT, "test/integration/fixtures/minimal-agent.mjs"),
      cwd: REPO_ROOT,
      env: { ...stack.nodeEnv, FAME_REQUESTED_LOGICALS: "*.fame.fabric", SLEEPY_ADDRESS: "idle@fame.fabric" },
      readyLine: /minimal agent serving/,
      readyTimeoutMs: 30_000,
    });
    const started = Date.now();
    agent.child.kill("SIGINT");
    expect(await agent.exited).toBe(0);
    // nothing pinned: the quiet period (1 s by default), not the 10 s bound, ends the drain
    expect(Date.now() - started).toBeLessThan(8000);
    expect(agent.output()).toMatch(/"outcome":"idle"/);
  }, 60_000);
});
