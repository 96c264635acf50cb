import { Writable } from "node:stream";
import { createLogger } from "@fame/logger";
import { Agent, connectFabric, NodeSigner, nodeConfigFromEnv } from "@fame/sdk";
import {
  binOf,
  type FabricStack,
  REPO_ROOT,
  type RunningProcess,
  startFabricStack,
  startProcess,
  stopAll,
} from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Attacker } from "./support/attacker.js";
import { admitRaw, instanceOf } from "./support/identities.js";

/**
 * The whole flow (admission, attach, channels, calls, refusals) with every
 * process at FAME_LOG_LEVEL=debug and FAME_SHOW_ENVELOPES=true; then all the
 * output is searched for secrets: the client secret (right and wrong ones),
 * private keys (PEM or JWK), access tokens, attach tickets, CA grants, AFTs
 * (any compact JWS) and channel plaintext. None may appear.
 */
interface MathApi {
  add(p: { x: number; y: number }): Promise<number>;
  multiply(p: { x: number; y: number }): Promise<number>;
}

/** any compact JWS with a JSON header and payload: access tokens, tickets, CA grants, AFTs */
const JWS = /eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\./;
const WRONG_SECRET = "wrong-secret-Zq8Xk2Lm9Pw4";
/** operands and results of calls that travel sealed: they must stay inside the channel */
const PLAINTEXT = ["48151623", "42424242", "90575865", "31337017", "77777773"];

let stack: FabricStack;
const extraOutput: (() => string)[] = [];
let clientLog = "";
let replayedTicket = "";
let refusedTicket = "";

beforeAll(async () => {
  stack = await startFabricStack({
    securityProfile: "strict-overlay",
    encryption: "channel",
    logLevel: "debug",
    sentinelEnv: { FAME_SHOW_ENVELOPES: "true" },
    agentEnv: { FAME_SHOW_ENVELOPES: "true" },
  });
  await stack.startReplica("replica1");
  await stack.startReplica("replica2");
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await stopAll();
});

async function runClient(env: Record<string, string>): Promise<RunningProcess> {
  const p = await startProcess({
    name: "math-client",
    script: binOf("services", "math-client"),
    cwd: REPO_ROOT,
    env: { ...stack.nodeEnv, FAME_LOG_LEVEL: "debug", FAME_SHOW_ENVELOPES: "true", ...env },
    readyLine: /./,
    readyTimeoutMs: 30_000,
  });
  extraOutput.push(() => p.output());
  return p;
}

describe("secrets never logged", () => {
  it("runs the whole flow at debug with envelopes shown", async () => {
    // the demo client as a process
    const client = await runClient({});
    expect(await client.exited).toBe(0);
    expect(client.output()).toContain("add(3, 4) = 7");

    // an in-process client whose log we capture, with sealed operands we can look for
    const fabric = await connectFabric({
      config: nodeConfigFromEnv({ ...stack.nodeEnv, FAME_SHOW_ENVELOPES: "true" }),
      logger: createLogger({
        name: "captured-client",
        level: "debug",
        destination: new Writable({
          write: (chunk, _e, cb) => {
            clientLog += chunk.toString();
            cb();
          },
        }),
      }),
      installDefault: false,
    });
    const math = Agent.remoteByAddress<MathApi>("math@fame.fabric", { endpoint: fabric.endpoint });
    expect(await math.add({ x: 48151623, y: 42424242 })).toBe(90575865);
    expect(await math.multiply({ x: 31337017, y: 1 })).toBe(31337017);
    expect(await math.add({ x: 77777772, y: 1 })).toBe(77777773);
    await fabric.close();

    // a client with the wrong secret: admission fails, and says why without repeating it
    const denied = await runClient({ FAME_ADMISSION_CLIENT_SECRET: WRONG_SECRET });
    expect(await denied.exited).not.toBe(0);

    // a replayed attach ticket and a tampered one, refused by the sentinel
    const adm = await admitRaw(stack.nodeEnv);
    replayedTicket = adm.attachTicket;
    for (const ticket of [adm.attachTicket, adm.attachTicket, `${adm.attachTicket.slice(0, -6)}AAAAAA`]) {
      const a = await Attacker.connect({ url: stack.urls.attach, ca: stack.trustBundle });
      a.signer = new NodeSigner(adm.seed, adm.x5c);
      const instanceId = instanceOf(adm);
      await a.attach({ systemId: adm.systemId, instanceId, attachTicket: ticket });
      await a.close();
    }
    refusedTicket = `${adm.attachTicket.slice(0, -6)}AAAAAA`;
    await expect.poll(() => stack.sentinel.output()).toMatch(/ticket_replayed/);
  });

  it("finds none of them in any process output", () => {
    const outputs: [string, string][] = [
      ...[stack.sentinel, ...stack.services, ...stack.replicas.values()].map(
        (p) => [p.name, p.output()] as [string, string],
      ),
      ...extraOutput.map((o, i) => [`math-client#${i}`, o()] as [string, string]),
      ["in-process client", clientLog],
    ];
    const secret = stack.nodeEnv["FAME_ADMISSION_CLIENT_SECRET"]!;
    expect(secret.length).toBeGreaterThan(8);
    const forbidden: [string, RegExp][] = [
      ["client secret", new RegExp(secret.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))],
      ["wrong client secret", new RegExp(WRONG_SECRET)],
      ["PEM private key", /PRIVATE KEY/],
      ["JWK private part", /"d"\s*:\s*"(?!\[redacted\])/],
      ["compact JWS/JWT (token, ticket, grant, AFT)", JWS],
      ["Basic credentials", /Basic [A-Za-z0-9+/=]{16,}/],
      ["replayed attach ticket", new RegExp(replayedTicket.slice(-40).replace(/[-]/g, "\\-"))],
      ["refused attach ticket", new RegExp(refusedTicket.slice(-40).replace(/[-]/g, "\\-"))],
      ...PLAINTEXT.map((p) => [`channel plaintext ${p}`, new RegExp(p)] as [string, RegExp]),
    ];
    // the patterns do find what they look for
    expect(replayedTicket).toMatch(JWS);
    expect("-----BEGIN PRIVATE KEY-----").toMatch(/PRIVATE KEY/);
    const leaks: string[] = [];
    for (const [name, text] of outputs) {
      for (const [what, re] of forbidden) {
        const m = re.exec(text);
        if (m) leaks.push(`${name}: ${what} near …${text.slice(Math.max(0, m.index - 80), m.index + 40)}…`);
      }
    }
    expect(leaks).toEqual([]);
    // and the logs really were verbose: debug lines and shown envelopes from every kind of process
    expect(stack.sentinel.output()).toMatch(/"msg":"envelope"/);
    for (const r of stack.replicas.values()) expect(r.output()).toMatch(/"level":20/);
    expect(clientLog).toMatch(/"msg":"envelope"/);
    expect(clientLog).toMatch(/"level":20/);
    const total = outputs.reduce((n, [, t]) => n + t.length, 0);
    console.log(`searched ${outputs.length} outputs, ${(total / 1024).toFixed(0)} KiB of logs`);
  });
});
