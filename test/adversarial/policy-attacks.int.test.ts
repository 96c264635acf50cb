import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AdmissionError } from "@fame/identity";
import { type AddressBindAck, newId } from "@fame/protocol";
import { type FabricStack, pidAlive, startFabricStack, stopAll } from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attachAdmitted } from "./support/admitted.js";
import type { Attacker } from "./support/attacker.js";
import { admitRaw } from "./support/identities.js";
import { LegitTraffic } from "./support/legit-traffic.js";

/**
 * Who may serve and call what (issue 14 item 6), against the whole fabric with an access policy
 * file read by Welcome and the sentinel: the dev PKI's agent credential may serve pools under
 * `*.fame.fabric`, the client credential may only call, and only math@fame.fabric (a `*.base`
 * pattern covers base itself, so `*@*.fame.fabric` would include admin@fame.fabric). The
 * attacker holds the client credential and speaks the wire protocol by hand; a legitimate
 * client (the client credential too) calls throughout and every call must succeed.
 */
const POLICY = `
policy:
  type: AccessPolicy
  reserved_logicals: [fame.fabric]
  serve:
    - principals: [fame-dev-agent]
      logicals: ["*.fame.fabric"]
  call:
    - principals: [fame-dev-agent, fame-dev-client]
      addresses: ["math@fame.fabric"]
    - principals: [fame-dev-agent]
      addresses: ["*@*.fame.fabric"]
`;

let stack: FabricStack;
let legit: LegitTraffic | undefined;
let policyDir: string;
const attackers: Attacker[] = [];

/** a hand-driven node admitted with `env`'s credential, attached */
async function attached(env: Record<string, string>): Promise<Attacker> {
  return attachAdmitted({ url: stack.urls.attach, ca: stack.trustBundle }, await admitRaw(env), attackers);
}

async function bind(a: Attacker, address: string): Promise<AddressBindAck> {
  const env = await a.send({ frame: { type: "AddressBind", address } });
  return (await a.waitFor((e) => e.frame.type === "AddressBindAck" && e.corrId === env.id))
    .frame as AddressBindAck;
}

async function admissionCode(env: Record<string, string>, logicals: string[]): Promise<string> {
  const err = await admitRaw(env, logicals).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AdmissionError);
  return (err as AdmissionError).code;
}

beforeAll(async () => {
  policyDir = mkdtempSync(join(tmpdir(), "fame-policy-"));
  const policyFile = join(policyDir, "policy.yml");
  writeFileSync(policyFile, POLICY);
  stack = await startFabricStack({ securityProfile: "strict-overlay", encryption: "channel", policyFile });
}, 120_000);

afterAll(async () => {
  for (const a of attackers) await a.close();
  await legit?.close();
  const pids = stack?.allPids() ?? [];
  await stack?.stop();
  await stopAll();
  rmSync(policyDir, { recursive: true, force: true });
  for (const pid of pids) expect(pidAlive(pid)).toBe(false);
});

describe("address squatting (item 6)", () => {
  it("a client credential gets no logical from Welcome: not fame.fabric, not a pool", async () => {
    expect(await admissionCode(stack.clientEnv, ["fame.fabric"])).toBe("logical_not_allowed");
    expect(await admissionCode(stack.clientEnv, ["*.fame.fabric"])).toBe("logical_not_allowed");
    // the sentinel's own logical is never granted exactly, not even to an agent
    expect(await admissionCode(stack.nodeEnv, ["fame.fabric"])).toBe("logical_not_allowed");
  });

  it("a squat of math@fame.fabric before the replicas attach is refused; the replicas then serve", async () => {
    const squatter = await attached(stack.clientEnv);
    expect(await bind(squatter, "math@fame.fabric")).toMatchObject({ ok: false, code: "not_authorized" });
    expect(await bind(squatter, "health@fame.fabric")).toMatchObject({ ok: false, code: "not_authorized" });
    // the rightful replicas attach afterwards and bind (startReplica resolves once they serve)
    await stack.startReplica("replica1");
    await stack.startReplica("replica2");
    legit = await LegitTraffic.connect(stack.clientEnv);
    for (let i = 0; i < 10; i++) await legit.callOnce();
    expect((await legit.stop()).failures).toEqual([]);
  }, 90_000);

  it("a client credential cannot join the pool the replicas serve", async () => {
    await legit!.during(async () => {
      const joiner = await attached(stack.clientEnv);
      for (let i = 0; i < 5; i++) {
        expect(await bind(joiner, "math@fame.fabric")).toMatchObject({ ok: false, code: "not_authorized" });
      }
    });
  });
});

describe("calling what the policy forbids", () => {
  it("a client credential calling admin@fame.fabric is refused with not_authorized; an agent is served", async () => {
    await stack.startReplica("admin1", { FAME_AGENT_ADDRESS: "admin@fame.fabric" });
    await legit!.during(async () => {
      const caller = await attached(stack.clientEnv);
      const id = newId();
      const req = await caller.send({
        to: "admin@fame.fabric",
        replyTo: caller.replyTo,
        corrId: id,
        frame: {
          type: "Data",
          codec: "json",
          payload: { jsonrpc: "2.0", id, method: "add", params: { x: 1, y: 2 } },
        },
      });
      expect((await caller.nackFor(req.id)).frame).toMatchObject({ ok: false, code: "not_authorized" });
      // the agent credential may call it: same frame, answered by the admin replica
      const agent = await attached(stack.nodeEnv);
      const id2 = newId();
      const req2 = await agent.send({
        to: "admin@fame.fabric",
        replyTo: agent.replyTo,
        corrId: id2,
        frame: {
          type: "Data",
          codec: "json",
          payload: { jsonrpc: "2.0", id: id2, method: "add", params: { x: 1, y: 2 } },
        },
      });
      const answer = await agent.waitFor(
        (e) => e.corrId === id2 || (e.frame.type === "DeliveryAck" && e.frame.refId === req2.id),
      );
      expect(answer.frame).toMatchObject({ type: "Data", payload: { result: 3 } });
      // the admin replica's physical address (every answer names it) is no way around the policy:
      // admin@/path reaches the agent served as admin@fame.fabric, and no other name reaches it
      const path = pathOfAddress(answer.replyTo);
      const direct = async (to: string) => {
        const id3 = newId();
        const req3 = await caller.send({
          to,
          replyTo: caller.replyTo,
          corrId: id3,
          frame: {
            type: "Data",
            codec: "json",
            payload: { jsonrpc: "2.0", id: id3, method: "add", params: { x: 1, y: 2 } },
          },
        });
        return caller.waitFor(
          (e) => e.corrId === id3 || (e.frame.type === "DeliveryAck" && e.frame.refId === req3.id),
        );
      };
      expect((await direct(`admin@${path}`)).frame).toMatchObject({ ok: false, code: "not_authorized" });
      const otherName = await direct(`x@${path}`);
      expect(otherName.frame).toMatchObject({
        type: "Data",
        payload: { error: { data: { fame_code: "no_route" } } },
      });
      expect(JSON.stringify(otherName.frame)).not.toContain('"result"');
    });
  }, 60_000);
});

/** the `/path` of a physical `name@/path` address */
function pathOfAddress(address: string | undefined): string {
  const at = address?.indexOf("@/") ?? -1;
  if (address === undefined || at < 0) throw new Error(`not a physical address: ${address}`);
  return address.slice(at + 1);
}
