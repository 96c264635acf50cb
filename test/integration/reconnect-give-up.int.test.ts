import { type FabricStack, pidAlive, startFabricStack, stopAll } from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * A node outlives any sentinel outage by default (it keeps reattaching); one told to give up
 * after FAME_RECONNECT_MAX_ATTEMPTS ends its process with code 1, so a supervisor that restarts
 * failed services brings it back (it used to give up after 1000 attempts and exit 0).
 */
let stack: FabricStack;

beforeAll(async () => {
  stack = await startFabricStack({ securityProfile: "strict-overlay", encryption: "channel" });
}, 120_000);

afterAll(async () => {
  const pids = stack?.allPids() ?? [];
  await stack?.stop();
  await stopAll();
  for (const pid of pids) expect(pidAlive(pid)).toBe(false);
}, 60_000);

describe("a node whose sentinel stays away", () => {
  it("gives up after FAME_RECONNECT_MAX_ATTEMPTS and exits 1; one with the default keeps trying", async () => {
    const bounded = await stack.startReplica("bounded", { FAME_RECONNECT_MAX_ATTEMPTS: "2" });
    const endless = await stack.startReplica("endless");
    await stack.sentinel.stop("SIGKILL");
    expect(await bounded.exited).toBe(1);
    expect(bounded.output()).toContain("giving up on the sentinel (FAME_RECONNECT_MAX_ATTEMPTS)");
    // the default one is still trying: its attempts go on past the other's two
    await endless.waitForOutput(/"attempt":3,.*"reattach failed"/, 20_000);
    expect(pidAlive(endless.pid)).toBe(true);
  }, 60_000);
});
