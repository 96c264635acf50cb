import { requestJson } from "@fame/http-service/client";
import { newId } from "@fame/protocol";
import type { Fabric } from "@fame/sdk";
import { type FabricStack, startFabricStack } from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { distributionOf, sentinelYaml } from "../integration/affinity-helpers.js";
import { TestClients, tearDown } from "../support/fabric-clients.js";

/**
 * Audit round 13 (HIGH, reproduced): a caller makes an honest replica's answers undeliverable,
 * and the sentinel, which holds every call until something names it (outlier ejection, I41),
 * took the replica for stalled: it was ejected after `unanswered_sec`, and every call of other
 * clients it held failed at once (`replica_unavailable`).
 *
 * - The caller closes its own channel (its SecureClose, which it may send) under 8 slow calls:
 *   the replica forgets the channel and, since answers to sealed requests leave on their
 *   channel or not at all (I47), sent nothing. It now answers `channel_closed`, with nothing of
 *   the result.
 * - The caller names as its reply address one of its own where the sentinel refuses calls (a
 *   standby's of a single-active pool, or a name the replica's principal may not call): every
 *   answer was refused. An answer at the reply address its caller named is now delivered.
 *
 * Real processes (TLS, Welcome admission, strict-overlay channels). Each case waits for the
 * attacker's calls to leave the sentinel's books (its in-flight count back to 0): with the
 * calls held, the ejection follows on its own. Legitimate clients call throughout.
 */
const MATH = "math@fame.fabric";
const LEDGER = "ledger@fame.fabric";
const yaml = sentinelYaml(
  [
    `    - address: "${MATH}"`,
    "      outlier_detection: { unanswered_sec: 5, ejection_sec: 60 }",
    `    - address: "${LEDGER}"`,
    "      mode: single-active",
    "",
  ].join("\n"),
);

let stack: FabricStack;
const clients = new TestClients(() => stack);
const connect = (env: Record<string, string>): Promise<Fabric> => clients.connect(env);

/** the sentinel's count of calls `f` has in flight (its status page, by sid) */
async function inflightOf(f: Fabric): Promise<number> {
  const status = (await requestJson(`${stack.urls.sentinel}/fame/v1/status`, {
    ca: stack.trustBundle,
    headers: stack.adminHeaders,
  })) as { nodes: { sid: string; inflight: number }[] };
  return status.nodes.find((n) => n.sid === f.connection.sid)?.inflight ?? -1;
}

/** legitimate clients calling `add` back to back until `stop`; what they heard */
function legitLoops(clients: Fabric[]): { stop: () => Promise<string[]> } {
  let running = true;
  const failures: string[] = [];
  const loops = clients.map(async (c) => {
    for (let i = 0; running && i < 100_000; i++) {
      await c.endpoint.client.call(MATH, "add", { x: i, y: 1 }, { timeoutMs: 10_000 }).then(
        (sum) => {
          if (sum !== i + 1) failures.push(`wrong answer ${String(sum)}`);
        },
        (e: unknown) => failures.push((e as { fameCode?: string }).fameCode ?? String(e)),
      );
      await new Promise((r) => setTimeout(r, 20));
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return failures;
    },
  };
}

beforeAll(async () => {
  stack = await startFabricStack({
    securityProfile: "strict-overlay",
    encryption: "channel",
    sentinelEnv: { FAME_CONFIG: yaml.file },
  });
  await stack.startReplica("ledger1", { FAME_AGENT_ADDRESS: LEDGER });
  await stack.startReplica("r1");
  await stack.startReplica("r2");
}, 180_000);

afterAll(async () => {
  try {
    await tearDown(stack, clients);
  } finally {
    yaml.cleanup();
  }
}, 60_000);

describe("answers a caller makes undeliverable leave no call unanswered", () => {
  it("a caller closes its own channel under 8 slow calls: each is answered channel_closed, nothing in clear, no replica ejected", async () => {
    const legit = legitLoops([await connect(stack.clientEnv), await connect(stack.clientEnv)]);
    const attacker = await connect(stack.clientEnv);
    expect(await attacker.endpoint.client.call(MATH, "add", { x: 1, y: 1 })).toBe(2);
    const ch = await attacker.node.channels.forAddress(MATH);
    const calls = Array.from({ length: 8 }, () =>
      attacker.endpoint.client.call(MATH, "sleep", { ms: 1500 }, { timeoutMs: 30_000, retry: false }).then(
        () => "answered",
        (e: unknown) => (e as { fameCode?: string }).fameCode ?? String(e),
      ),
    );
    // all 8 are held by the sentinel before the channel goes
    await expect.poll(() => inflightOf(attacker), { timeout: 10_000, interval: 50 }).toBe(8);
    attacker.connection.send({ to: MATH, frame: { type: "SecureClose", cid: ch.cid, reason: "bye" } });
    // the replica ran each call and answered it without its result: the operation ran
    expect(await Promise.all(calls)).toEqual(Array.from({ length: 8 }, () => "channel_closed"));
    expect(await inflightOf(attacker)).toBe(0);
    expect((await distributionOf(stack, MATH)).counters.ejections).toBe(0);
    // the caller's next call opens a fresh channel
    expect(await attacker.endpoint.client.call(MATH, "add", { x: 2, y: 2 })).toBe(4);
    expect((await attacker.node.channels.forAddress(MATH)).cid).not.toBe(ch.cid);
    expect(await legit.stop()).toEqual([]);
  }, 60_000);

  it("a caller names a standby's address of its own as its reply address: the answers reach it, no replica ejected", async () => {
    const legit = legitLoops([await connect(stack.clientEnv)]);
    // ledger1 serves LEDGER (a call elects it); the attacker binds LEDGER too: a standby, whose
    // addresses the sentinel refuses calls to (NOT_ACTIVE)
    const keeper = await connect(stack.clientEnv);
    await keeper.endpoint.client.call(LEDGER, "add", { x: 1, y: 1 });
    const attacker = await connect({ ...stack.clientEnv, FAME_REQUESTED_LOGICALS: "*.fame.fabric" });
    await attacker.connection.bind(LEDGER);
    expect((await distributionOf(stack, LEDGER)).active).not.toBe(null);
    const replyTo = attacker.connection.replyAddress.replace(/^rpc@/, "ledger@");
    const notActiveBefore = (await distributionOf(stack, LEDGER)).counters.notActive;
    for (let i = 0; i < 8; i++) {
      const corrId = newId();
      attacker.connection.send({
        to: MATH,
        replyTo,
        corrId,
        frame: {
          type: "Data",
          codec: "json",
          payload: { jsonrpc: "2.0", id: corrId, method: "add", params: { x: i, y: 1 } } as never,
        },
      });
    }
    await expect.poll(() => inflightOf(attacker), { timeout: 10_000, interval: 50 }).toBe(0);
    expect((await distributionOf(stack, LEDGER)).counters.notActive).toBe(notActiveBefore);
    expect((await distributionOf(stack, MATH)).counters.ejections).toBe(0);
    // a call to that address is still refused: the standby takes no calls
    const probe = await keeper.endpoint.client
      .call(replyTo, "add", { x: 1, y: 1 }, { retry: false, timeoutMs: 5000 })
      .catch((e: unknown) => (e as { fameCode?: string }).fameCode);
    expect(probe).toBe("NOT_ACTIVE");
    expect(await legit.stop()).toEqual([]);
  }, 60_000);
});
