import { Agent, connectFabric, type Fabric, nodeConfigFromEnv } from "@fame/sdk";
import { stopAll } from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Attacker } from "../adversarial/support/attacker.js";
import { type LoneSentinel, startLoneSentinel } from "../adversarial/support/lone-sentinel.js";
import { quietLogger } from "../support/fabric-clients.js";

/**
 * A node that starts while the fabric is busy (here: the sentinel's attach gate full for its
 * IP, answering 429 with Retry-After) waits its turn within FAME_START_WAIT_MS instead of
 * failing; with FAME_START_WAIT_MS=0 it fails at the first busy answer, as before.
 */
let sentinel: LoneSentinel;
const fabrics: Fabric[] = [];
const holders: Attacker[] = [];

beforeAll(async () => {
  sentinel = await startLoneSentinel({
    env: { FAME_MAX_PENDING_ATTACH_PER_IP: "1", FAME_ATTACH_TIMEOUT_MS: "1500" },
  });
  await sentinel.startReplica("r1");
}, 120_000);

afterAll(async () => {
  for (const f of fabrics) await f.close();
  for (const h of holders) await h.close();
  await sentinel?.stop();
  await stopAll();
});

/** a connection from 127.0.0.1 that upgrades and never attaches: the IP's one pending slot */
async function holdTheSlot(): Promise<Attacker> {
  const holder = await Attacker.connect({ url: sentinel.attachUrl, ca: sentinel.trustBundle });
  holders.push(holder);
  return holder;
}

const start = (startWaitMs: number) =>
  connectFabric({
    config: nodeConfigFromEnv({ ...sentinel.nodeEnv, FAME_START_WAIT_MS: String(startWaitMs) }),
    logger: quietLogger(),
    installDefault: false,
  });

describe("starting while the sentinel is busy", () => {
  it("fails at the first 429 with FAME_START_WAIT_MS=0, naming the answer", async () => {
    const holder = await holdTheSlot();
    const err = await start(0).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "connect_failed", retryAfterSec: 1 });
    expect((err as Error).message).toContain("429");
    await holder.close();
  });

  it("waits out the 429 (Retry-After) and attaches once the slot is free, then calls", async () => {
    const before = (await sentinel.status()).attachGate.rateLimited;
    // the holder is closed by the sentinel at FAME_ATTACH_TIMEOUT_MS, freeing the slot
    await holdTheSlot();
    const fabric = await start(20_000);
    fabrics.push(fabric);
    expect((await sentinel.status()).attachGate.rateLimited).toBeGreaterThan(before);
    const math = Agent.remoteByAddress<{ add(p: { x: number; y: number }): Promise<number> }>(
      "math@fame.fabric",
      { endpoint: fabric.endpoint },
    );
    expect(await math.add({ x: 20, y: 22 })).toBe(42);
  });
});
