import { SESSION_ID_META } from "@fame/protocol";
import type { Fabric } from "@fame/sdk";
import { type FabricStack, type RunningProcess, startFabricStack } from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestClients, tearDown } from "../support/fabric-clients.js";

/**
 * Node certificates expire (FAME_CA_CERT_TTL_SEC; an hour by default, the CA's minimum of 60 s
 * here) and nodes stay attached far longer. Past expiry a node's peers refused every new
 * channel it opened, and a replica's accepts: a client that had to re-key, or open a session,
 * was cut off. At about half its lifetime a node now gets a new key and certificate for the
 * same identity and presents it to its sentinel over the live link (KeyUpdate); nothing in
 * flight is disturbed, and past the old certificate's expiry new channels open both ways.
 */
const MATH = "math@fame.fabric";
const TTL_SEC = 60;
let stack: FabricStack;
let replica: RunningProcess;
const clients = new TestClients(() => stack);
/** a client of the call-only credential */
const client = (): Promise<Fabric> => clients.connect(stack.clientEnv);

beforeAll(async () => {
  stack = await startFabricStack({
    securityProfile: "strict-overlay",
    encryption: "channel",
    serviceEnv: { FAME_CA_CERT_TTL_SEC: String(TTL_SEC) },
  });
  replica = await stack.startReplica("replica1");
}, 120_000);

afterAll(() => tearDown(stack, clients), 60_000);

describe("a node attached past its certificate's lifetime", () => {
  it("renews its key while attached; after the first certificate expired, new channels open both ways", async () => {
    const started = Date.now();
    const early = await client();
    expect(await early.endpoint.client.call(MATH, "add", { x: 1, y: 1 })).toBe(2);
    const firstChannel = (await early.node.channels.forAddress(MATH)).cid;
    // both renew at 45-55 % of their lifetime, and the sentinel takes the new key
    await replica.waitForOutput(/"msg":"renewed key in use"/, (TTL_SEC * 0.6 + 10) * 1000);
    await stack.sentinel.waitForOutput(/"msg":"node keys renewed"/, 10_000);
    // the channel opened before the renewal carries on meanwhile
    expect(await early.endpoint.client.call(MATH, "add", { x: 2, y: 2 })).toBe(4);
    // past the first certificates' expiry (the test's clock: they were issued after `started`)
    await new Promise((r) => setTimeout(r, Math.max(0, started + (TTL_SEC + 2) * 1000 - Date.now())));
    // the early client opens a new channel (a session's): signed with its renewed key, accepted
    // with the replica's renewed key
    const session = await early.node.channels.forAddress(MATH, "renewal-session");
    expect(session.cid).not.toBe(firstChannel);
    expect(
      await early.endpoint.client.call(
        MATH,
        "add",
        { x: 3, y: 3 },
        { meta: { [SESSION_ID_META]: "renewal-session" } },
      ),
    ).toBe(6);
    // and a newcomer's channel is accepted by the long-running replica
    const late = await client();
    expect(await late.endpoint.client.call(MATH, "add", { x: 4, y: 4 })).toBe(8);
    expect(replica.output()).not.toMatch(/"msg":"renewed key not presented"/);
  }, 150_000);
});
