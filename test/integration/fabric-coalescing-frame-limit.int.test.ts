/**
 * A coalesced record must respect the sentinel's frame limit (announced in NodeAttachAck):
 * a burst of calls that fit one by one still succeeds when their sum does not fit in one
 * record, and a single oversized call fails at once with frame_too_large instead of timing out.
 */
import { Agent, type RpcError } from "@fame/sdk";
import { type FabricStack, startFabricStack } from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestClients, tearDown } from "../support/fabric-clients.js";

const MATH = "math@fame.fabric";
const FRAME_LIMIT = 16_384;

interface MathApi {
  add(p: { x: number; y: number; pad?: string }): Promise<number>;
  whoami(): Promise<{ replica: string }>;
}

let stack: FabricStack | undefined;
const clients = new TestClients(() => stack!);

beforeAll(async () => {
  stack = await startFabricStack({
    securityProfile: "strict-overlay",
    encryption: "channel",
    sentinelEnv: { FAME_MAX_FRAME_BYTES: String(FRAME_LIMIT) },
  });
  await stack.startReplica("replica1");
}, 120_000);

afterAll(() => tearDown(stack, clients));

describe("coalescing under a small sentinel frame limit", () => {
  it("splits a burst whose record would be too large, and every call succeeds", async () => {
    const f = await clients.connect({
      FAME_DEFAULT_ENCRYPTION_LEVEL: "channel",
      FAME_RPC_TIMEOUT_MS: "8000",
    });
    const math = Agent.remoteByAddress<MathApi>(MATH, { endpoint: f.endpoint });
    expect((await math.whoami()).replica).toBe("replica1");
    // ~1 KB each: 24 of them are far more than one 16 KiB frame, each alone is well inside it
    const pad = "x".repeat(1000);
    const results = await Promise.all(Array.from({ length: 24 }, (_, i) => math.add({ x: i, y: 1, pad })));
    expect(results).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
  });

  it("fails a single call larger than the limit at once with frame_too_large", async () => {
    const f = await clients.connect({
      FAME_DEFAULT_ENCRYPTION_LEVEL: "channel",
      FAME_RPC_TIMEOUT_MS: "30000",
    });
    const math = Agent.remoteByAddress<MathApi>(MATH, { endpoint: f.endpoint });
    await math.whoami();
    const error = (await math
      .add({ x: 1, y: 1, pad: "x".repeat(FRAME_LIMIT) })
      .catch((e: unknown) => e)) as RpcError;
    expect(error.fameCode).toBe("frame_too_large");
    // the link survived: the next call works
    expect(await math.add({ x: 2, y: 3 })).toBe(5);
  });
});
