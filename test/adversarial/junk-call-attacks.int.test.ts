import { newId } from "@fame/protocol";
import { Agent, connectFabric, type Fabric, NodeSigner, nodeConfigFromEnv } from "@fame/sdk";
import { type FabricStack, pidAlive, type RunningProcess, startFabricStack, stopAll } from "@fame/testkit";
import { afterAll, beforeAll, expect, it } from "vitest";
import { distributionOf, systemIdOf } from "../integration/affinity-helpers.js";
import { quietLogger } from "../support/fabric-clients.js";
import { Attacker } from "./support/attacker.js";
import { admitRaw, instanceOf } from "./support/identities.js";
import { LEDGER, type LedgerApi, ledgerPoolYaml, startSilentHolder } from "./support/silent-holder.js";

/**
 * Audit round 11 (HIGH): the sentinel holds every Data frame with a corrId and a reply address
 * sent to a pool as a call until it is answered, and outlier ejection takes a member with
 * unanswered calls for stalled. A client sent an honest replica frames it rightly ignores (a
 * JSON-RPC reply to nobody, credit and cancel for no stream, a stream item): eight of them got
 * it ejected while it answered everyone else, and with a hostile silent holder as the standby
 * the holder became the last eligible member, never ejected, and every legitimate call timed
 * out for the ejection. A replica now refuses such a frame, which answers it. Real processes:
 * TLS, Welcome admission, strict-overlay channels; the attacker holds the client credential.
 */
const UNANSWERED_SEC = 2;
const yaml = ledgerPoolYaml(UNANSWERED_SEC);

let stack: FabricStack;
let holder: RunningProcess;
let honest: RunningProcess;
let fabric: Fabric | undefined;
let mallory: Attacker | undefined;

beforeAll(async () => {
  stack = await startFabricStack({
    securityProfile: "strict-overlay",
    encryption: "channel",
    sentinelEnv: { FAME_CONFIG: yaml.file },
  });
  // the honest replica first: it wins the election; the hostile holder waits as the standby
  honest = await stack.startReplica("honest", { FAME_AGENT_ADDRESS: LEDGER });
  holder = await startSilentHolder(stack);
}, 180_000);

afterAll(async () => {
  await mallory?.close().catch(() => {});
  await fabric?.close().catch(() => {});
  const pids = [...(stack?.allPids() ?? []), ...(holder?.child.pid ? [holder.child.pid] : [])];
  await stack?.stop();
  await stopAll();
  yaml.cleanup();
  for (const pid of pids) expect(pidAlive(pid)).toBe(false);
}, 60_000);

it("frames a replica rightly ignores are refused by it, so no client can get it ejected with them", async () => {
  const honestId = systemIdOf(honest);
  fabric = await connectFabric({
    config: nodeConfigFromEnv(stack.clientEnv),
    logger: quietLogger(),
    installDefault: false,
  });
  const ledger = Agent.remoteByAddress<LedgerApi>(LEDGER, { endpoint: fabric.endpoint, timeoutMs: 1500 });
  for (let i = 0; i < 3; i++) expect(await ledger.add({ x: i, y: 1 })).toBe(i + 1);
  expect((await distributionOf(stack, LEDGER)).active).toBe(honestId);

  // the attacker: a second process of the client credential (another principal than the replicas)
  const adm = await admitRaw(stack.clientEnv, []);
  mallory = await Attacker.connect({ url: stack.urls.attach, ca: stack.trustBundle });
  mallory.signer = new NodeSigner(adm.seed, adm.x5c);
  const ack = await mallory.attach({
    systemId: adm.systemId,
    instanceId: instanceOf(adm),
    attachTicket: adm.attachTicket,
    logicals: adm.acceptedLogicals,
  });
  expect(ack.ok).toBe(true);
  const junk = (corrId: string) => [
    { jsonrpc: "2.0", id: corrId, result: 0 },
    { jsonrpc: "2.0", id: corrId, stream: "credit", n: 8 },
    { jsonrpc: "2.0", id: corrId, stream: "cancel" },
    { jsonrpc: "2.0", id: corrId, stream: "item", seq: 0, result: 1 },
  ];
  const sent: string[] = [];
  for (let i = 0; i < 12; i++) {
    const corrId = newId();
    sent.push(corrId);
    await mallory.send({
      to: LEDGER,
      replyTo: mallory.replyTo,
      corrId,
      frame: { type: "Data", codec: "json", payload: junk(corrId)[i % 4] as never },
    });
  }
  // every one is answered: the honest replica refuses it
  for (const corrId of sent) {
    const nack = await mallory.waitFor((e) => e.frame.type === "DeliveryAck" && e.corrId === corrId);
    expect(nack.frame).toMatchObject({ ok: false, code: "bad_envelope" });
  }

  // three times the pool's limit: the legitimate client is served throughout, by the honest replica
  const until = Date.now() + 3 * UNANSWERED_SEC * 1000;
  let answered = 0;
  for (let x = 0; x < 200 && Date.now() < until; x++) {
    expect(await ledger.add({ x, y: 1 })).toBe(x + 1);
    answered++;
  }
  expect(answered).toBeGreaterThan(5);
  const after = await distributionOf(stack, LEDGER);
  expect(after.active).toBe(honestId);
  expect(after.counters.ejections).toBe(0);
}, 120_000);
