import { describe, expect, it } from "vitest";
import { BaseAgent } from "../src/agent/base-agent.js";
import { defineOperation } from "../src/agent/operation.js";
import type { CallContext, CallerIdentity } from "../src/rpc/call-context.js";
import { CallerSlots, callerLimit } from "../src/rpc/caller-slots.js";
import { RpcEndpoint } from "../src/rpc/endpoint.js";
import { encodeRequest, encodeStreamCancel, encodeStreamCredit } from "../src/rpc/jsonrpc.js";
import type { JsonValue, RpcMessageMeta, RpcOutbound } from "../src/rpc/transport.js";

/**
 * The callee keys what it holds for a caller by the caller's verified sid (RpcMessageMeta.sender),
 * not by the reply address a message names: a stranger's credit or cancel touches nothing, one
 * caller holds at most its share of an agent's slots, and operations see who called.
 */
const MATH = "math@fame.fabric";

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

class Agent extends BaseAgent {
  readonly hold = gate();
  seen: CallerIdentity[] = [];
  async *numbers(): AsyncGenerator<number> {
    for (let i = 0; i < 1000; i++) yield i;
  }
  async slow(): Promise<string> {
    await this.hold.promise;
    return "done";
  }
  async who(_p: object, ctx: CallContext): Promise<CallerIdentity> {
    this.seen.push(ctx.caller);
    return ctx.caller;
  }
}
defineOperation(Agent, "numbers", { streaming: true });
defineOperation(Agent, "slow");
defineOperation(Agent, "who");

interface Sent {
  to: string;
  payload: JsonValue;
  corrId: string;
}

/** a callee endpoint whose sends are recorded: messages are fed in by hand, as the network would */
async function callee(opts: { maxInflight?: number; callerShare?: number; principalShare?: number } = {}) {
  const sent: Sent[] = [];
  const outbound: RpcOutbound = {
    replyAddress: "rpc@/sentinel0/replica",
    send(to, payload, m) {
      sent.push({ to, payload, corrId: m.corrId });
      return undefined;
    },
  };
  const endpoint = new RpcEndpoint(outbound, {
    ...(opts.callerShare === undefined ? {} : { callerShare: opts.callerShare }),
    ...(opts.principalShare === undefined ? {} : { principalShare: opts.principalShare }),
  });
  const agent = new Agent({ maxInflight: opts.maxInflight ?? 8 });
  await endpoint.serveAgent(MATH, agent);
  const from = (sid: string, corrId: string): RpcMessageMeta => ({
    corrId,
    from: `rpc@/sentinel0/${sid}`,
    to: MATH,
    sender: sid,
  });
  return { sent, endpoint, agent, from };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));
const fameCode = (p: JsonValue) =>
  ((p as { error?: { data?: { fame_code?: string } } }).error?.data?.fame_code ?? undefined) as
    | string
    | undefined;

describe("streams keyed by the verified sender", () => {
  it("ignores a stranger's cancel and credit naming the victim's reply address and corrId", async () => {
    const { sent, endpoint, from } = await callee();
    endpoint.handleIncoming(encodeRequest("c1", "numbers", {}, 2), from("victim", "c1"));
    await tick();
    const victimItems = () => sent.filter((s) => s.corrId === "c1").length;
    expect(victimItems()).toBe(2);
    expect(endpoint.activeCalls).toBe(1);
    // the attacker names the victim's reply address and corrId, but its own sid is what was proven
    const forged: RpcMessageMeta = { ...from("victim", "c1"), sender: "attacker" };
    endpoint.handleIncoming(encodeStreamCancel("c1"), forged);
    endpoint.handleIncoming(encodeStreamCredit("c1", 100), forged);
    for (let i = 0; i < 5; i++) await tick();
    expect(endpoint.activeCalls).toBe(1);
    expect(victimItems()).toBe(2); // no credit granted by the stranger either
    // the victim's own credit still counts, and its own cancel ends the stream
    endpoint.handleIncoming(encodeStreamCredit("c1", 3), from("victim", "c1"));
    await expect.poll(victimItems).toBeGreaterThan(2);
    endpoint.handleIncoming(encodeStreamCancel("c1"), from("victim", "c1"));
    await expect.poll(() => endpoint.activeCalls).toBe(0);
  });

  it("runs a stranger's request with the same corrId as a call of its own", async () => {
    const { sent, endpoint, agent, from } = await callee();
    endpoint.handleIncoming(encodeRequest("c1", "slow", {}, undefined), from("victim", "c1"));
    endpoint.handleIncoming(encodeRequest("c1", "slow", {}, undefined), from("attacker", "c1"));
    expect(endpoint.activeCalls).toBe(2);
    agent.hold.open();
    await tick();
    expect(sent.map((s) => s.to).sort()).toEqual(["rpc@/sentinel0/attacker", "rpc@/sentinel0/victim"]);
  });
});

describe("per-caller share of an agent's call slots", () => {
  it("refuses one caller beyond its share with too_many_inflight while others are served", async () => {
    const { sent, endpoint, agent, from } = await callee({ maxInflight: 8 });
    for (let i = 0; i < 10; i++)
      endpoint.handleIncoming(encodeRequest(`h${i}`, "slow", {}, undefined), from("hog", `h${i}`));
    const refused = sent.filter((s) => s.corrId.startsWith("h"));
    expect(refused).toHaveLength(6);
    for (const r of refused) {
      expect(fameCode(r.payload)).toBe("too_many_inflight");
      expect(JSON.stringify(r.payload)).toContain("per-caller limit");
    }
    expect(endpoint.activeCalls).toBe(4);
    // another caller still gets slots
    for (let i = 0; i < 4; i++)
      endpoint.handleIncoming(encodeRequest(`o${i}`, "slow", {}, undefined), from("other", `o${i}`));
    expect(endpoint.activeCalls).toBe(8);
    // the agent is now full for everyone: the agent-wide limit still applies
    endpoint.handleIncoming(encodeRequest("x", "slow", {}, undefined), from("third", "x"));
    expect(JSON.stringify(sent.find((s) => s.corrId === "x")?.payload)).toContain("8 calls in flight");
    agent.hold.open();
    await tick();
    expect(endpoint.activeCalls).toBe(0);
    // released: the hog may call again
    endpoint.handleIncoming(encodeRequest("h-after", "who", {}, undefined), from("hog", "h-after"));
    await tick();
    expect(sent.find((s) => s.corrId === "h-after")?.payload).toMatchObject({ result: { sid: "hog" } });
  });

  it("runs the sentinel's probes in slots of their own while callers hold every slot", async () => {
    const { sent, endpoint, agent, from } = await callee({ maxInflight: 4 });
    for (const caller of ["a", "b"])
      for (let i = 0; i < 2; i++)
        endpoint.handleIncoming(
          encodeRequest(`${caller}${i}`, "slow", {}, undefined),
          from(caller, `${caller}${i}`),
        );
    expect(endpoint.activeCalls).toBe(4);
    // a caller naming itself the sentinel gets nothing: only the connection layer says so
    endpoint.handleIncoming(encodeRequest("c0", "who", {}, undefined), from("sentinel", "c0"));
    expect(fameCode(sent.find((s) => s.corrId === "c0")!.payload)).toBe("too_many_inflight");
    const probe = (corrId: string) => ({ ...from("sentinel", corrId), fromSentinel: true });
    endpoint.handleIncoming(encodeRequest("p0", "who", {}, undefined), probe("p0"));
    await tick();
    expect(sent.find((s) => s.corrId === "p0")?.payload).toMatchObject({ result: { sid: "sentinel" } });
    // its own slots are bounded too (SENTINEL_SLOTS)
    for (let i = 1; i <= 5; i++)
      endpoint.handleIncoming(encodeRequest(`p${i}`, "slow", {}, undefined), probe(`p${i}`));
    expect(fameCode(sent.find((s) => s.corrId === "p5")!.payload)).toBe("too_many_inflight");
    expect(endpoint.activeCalls).toBe(8);
    agent.hold.open();
    await tick();
    expect(endpoint.activeCalls).toBe(0);
  });

  it("takes the share from the options, and refuses a share out of range", async () => {
    const { endpoint, from } = await callee({ maxInflight: 4, callerShare: 1 });
    for (let i = 0; i < 4; i++)
      endpoint.handleIncoming(encodeRequest(`h${i}`, "slow", {}, undefined), from("hog", `h${i}`));
    expect(endpoint.activeCalls).toBe(4);
    const outbound: RpcOutbound = { replyAddress: "x", send: () => undefined };
    expect(() => new RpcEndpoint(outbound, { callerShare: 0 })).toThrow(RangeError);
    expect(() => new RpcEndpoint(outbound, { callerShare: 1.5 })).toThrow(RangeError);
  });

  it("counts per caller in place and forgets a caller at zero", () => {
    const slots = new CallerSlots();
    expect(slots.tryTake("a", 2)).toBe(true);
    expect(slots.tryTake("a", 2)).toBe(true);
    expect(slots.tryTake("a", 2)).toBe(false);
    expect(slots.tryTake("b", 2)).toBe(true);
    expect([slots.heldBy("a"), slots.callers]).toEqual([2, 2]);
    slots.give("a");
    slots.give("a");
    slots.give("a"); // one too many: harmless
    expect([slots.heldBy("a"), slots.callers]).toEqual([0, 1]);
    expect([callerLimit(256, 0.5), callerLimit(1, 0.5), callerLimit(3, 1), callerLimit(10, 0.01)]).toEqual([
      128, 1, 3, 1,
    ]);
  });
});

describe("per-principal share of an agent's call slots", () => {
  /** a message from process `sid`, whose certificate names `principal` */
  const of =
    (from: (sid: string, corrId: string) => RpcMessageMeta, sid: string, principal: string) =>
    (corrId: string) => ({
      ...from(sid, corrId),
      caller: Object.freeze({ sid, principal }),
    });

  it("holds the processes of one credential to one share together, and serves other principals", async () => {
    // 8 slots: 4 per process, 6 for all the processes of one principal (the defaults, 50 % and 75 %)
    const { sent, endpoint, agent, from } = await callee({ maxInflight: 8 });
    // three processes admitted with one credential, each within its own per-caller share
    const hogs = ["hog1", "hog2", "hog3"].map((sid) => of(from, sid, "mallory"));
    for (const [n, hog] of hogs.entries())
      for (let i = 0; i < 3; i++)
        endpoint.handleIncoming(encodeRequest(`h${n}${i}`, "slow", {}, undefined), hog(`h${n}${i}`));
    expect(endpoint.activeCalls).toBe(6);
    const refused = sent.filter((s) => s.corrId.startsWith("h"));
    expect(refused.map((r) => r.corrId)).toEqual(["h20", "h21", "h22"]);
    for (const r of refused) {
      expect(fameCode(r.payload)).toBe("too_many_inflight");
      expect(JSON.stringify(r.payload)).toContain("per-principal limit");
    }
    // a caller of another principal still finds the rest of the slots
    const alice = of(from, "alice1", "alice");
    for (let i = 0; i < 2; i++)
      endpoint.handleIncoming(encodeRequest(`a${i}`, "slow", {}, undefined), alice(`a${i}`));
    expect(endpoint.activeCalls).toBe(8);
    expect(sent.filter((s) => s.corrId.startsWith("a"))).toHaveLength(0);
    agent.hold.open();
    await tick();
    expect(endpoint.activeCalls).toBe(0);
    // every slot went back to its principal: mallory's processes may call again
    for (let i = 0; i < 6; i++)
      endpoint.handleIncoming(encodeRequest(`w${i}`, "who", {}, undefined), hogs[i % 3]!(`w${i}`));
    await tick();
    expect(sent.filter((s) => s.corrId.startsWith("w") && fameCode(s.payload) === undefined)).toHaveLength(6);
  });

  it("counts a caller without a principal (no certificate) per process only", async () => {
    const { endpoint, from } = await callee({ maxInflight: 8 });
    for (const sid of ["p1", "p2", "p3"])
      for (let i = 0; i < 2; i++)
        endpoint.handleIncoming(encodeRequest(`${sid}${i}`, "slow", {}, undefined), from(sid, `${sid}${i}`));
    expect(endpoint.activeCalls).toBe(6);
  });

  it("takes the principal share from the options, and refuses one out of range", async () => {
    const { endpoint, from } = await callee({ maxInflight: 8, principalShare: 0.25 });
    const a = of(from, "a1", "team-a");
    const b = of(from, "a2", "team-a");
    for (let i = 0; i < 2; i++) {
      endpoint.handleIncoming(encodeRequest(`x${i}`, "slow", {}, undefined), a(`x${i}`));
      endpoint.handleIncoming(encodeRequest(`y${i}`, "slow", {}, undefined), b(`y${i}`));
    }
    expect(endpoint.activeCalls).toBe(2);
    const outbound: RpcOutbound = { replyAddress: "x", send: () => undefined };
    expect(() => new RpcEndpoint(outbound, { principalShare: 0 })).toThrow(RangeError);
    expect(() => new RpcEndpoint(outbound, { principalShare: 2 })).toThrow(RangeError);
  });
});

describe("the verified caller reaches the operation", () => {
  it("gives ctx.caller the connection layer's identity, or the sid alone", async () => {
    const { sent, endpoint, agent, from } = await callee();
    const identity: CallerIdentity = Object.freeze({
      sid: "client1",
      systemId: "client1sys",
      spiffeId: "spiffe://fame.fabric/node/client1sys",
    });
    endpoint.handleIncoming(encodeRequest("w1", "who", {}, undefined), {
      ...from("client1", "w1"),
      caller: identity,
    });
    endpoint.handleIncoming(encodeRequest("w2", "who", {}, undefined), from("client2", "w2"));
    await tick();
    expect(agent.seen[0]).toBe(identity);
    expect(agent.seen[1]).toEqual({ sid: "client2" });
    expect(Object.isFrozen(agent.seen[1])).toBe(true);
    expect(sent.find((s) => s.corrId === "w2")?.payload).toMatchObject({ result: { sid: "client2" } });
  });
});

describe("the agent a request reaches", () => {
  it("at the node's physical address, only the agent served under that name: no other name reaches it", async () => {
    const { sent, endpoint } = await callee();
    const at = (to: string, corrId: string): RpcMessageMeta => ({
      corrId,
      from: "rpc@/sentinel0/caller",
      to,
      sender: "caller",
    });
    endpoint.handleIncoming(encodeRequest("c1", "who", {}, undefined), at("math@/sentinel0/replica", "c1"));
    endpoint.handleIncoming(encodeRequest("c2", "who", {}, undefined), at("x@/sentinel0/replica", "c2"));
    endpoint.handleIncoming(encodeRequest("c3", "who", {}, undefined), at("mathx@/sentinel0/replica", "c3"));
    await expect.poll(() => sent.length).toBe(3);
    const byCall = new Map(sent.map((s) => [s.corrId, s.payload]));
    expect(byCall.get("c1")).toMatchObject({ result: { sid: "caller" } });
    for (const id of ["c2", "c3"]) expect(fameCode(byCall.get(id)!)).toBe("no_route");
  });
});
