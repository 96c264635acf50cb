import { createLogger } from "@fame/logger";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  DIRECTORY_MAX_AGE_MS,
  type FabricState,
  MemoryHub,
  type NodeRecord,
  openFabricState,
  openMemoryFabricState,
  REGISTRY_MAX_AGE_MS,
} from "../src/index.js";

const log = createLogger({ name: "state-test", level: "silent" });
const opened: FabricState[] = [];

function pair(): [FabricState, FabricState] {
  const hub = new MemoryHub();
  const a = openMemoryFabricState("fabric", log, { hub });
  const b = openMemoryFabricState("fabric", log, { hub });
  opened.push(a, b);
  return [a, b];
}

function node(systemId: string, over: Partial<NodeRecord> = {}): NodeRecord {
  return {
    systemId,
    instanceId: `${systemId}-i1`,
    sid: `sid-${systemId}`,
    path: `/fabric/${systemId}`,
    sentinelId: "s1",
    principal: "client-a",
    logicals: ["math@fame.fabric"],
    addresses: [`math@/fabric/${systemId}`],
    keys: [{ kty: "OKP", crv: "Ed25519", x: "AAAA", kid: "k1", use: "sig", x5c: ["MIIB"] }],
    name: "r",
    draining: false,
    attachedAt: 1000,
    ...over,
  };
}

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(opened.splice(0).map((s) => s.close()));
});

describe("openFabricState (memory)", () => {
  it("builds the memory state without NATS, always ok", async () => {
    const state = await openFabricState({ profile: "memory", clusterId: "fabric" }, log);
    opened.push(state);
    expect(state.profile).toBe("memory");
    expect(state.clusterId).toBe("fabric");
    expect(state.bus).toBeUndefined();
    expect(state.status.state).toBe("ok");
    await state.close();
    await state.close();
  });
});

describe("memory SentinelRegistry", () => {
  it("lists live sentinels in id order and drops silent ones after the max age", async () => {
    vi.useFakeTimers();
    const [a, b] = pair();
    await a.registry.advertise({ sentinelId: "s2", publicUrl: "wss://h:2/fame", nodes: 3 });
    await b.registry.advertise({ sentinelId: "s1", publicUrl: "wss://h:1/fame", nodes: 1, draining: true });
    expect(a.registry.live().map((r) => [r.sentinelId, r.nodes, r.draining])).toEqual([
      ["s1", 1, true],
      ["s2", 3, false],
    ]);
    // s2 keeps its heartbeat; s1 stops (its process died)
    b.registry.withdraw("s1").catch(() => {});
    await a.registry.advertise({ sentinelId: "s2", publicUrl: "wss://h:2/fame", nodes: 4 });
    vi.advanceTimersByTime(REGISTRY_MAX_AGE_MS + 3000);
    expect(b.registry.live().map((r) => [r.sentinelId, r.nodes])).toEqual([["s2", 4]]);
    expect(b.registry.get("s1")).toBeUndefined();
  });

  it("a sentinel that stops refreshing ages out", async () => {
    vi.useFakeTimers();
    const [a, b] = pair();
    await a.registry.advertise({ sentinelId: "s1", publicUrl: "wss://h:1/fame", nodes: 0 });
    await a.close(); // stops the heartbeat without withdrawing, like a SIGKILL
    vi.advanceTimersByTime(REGISTRY_MAX_AGE_MS + 1);
    expect(b.registry.live()).toEqual([]);
  });
});

describe("memory NodeDirectory", () => {
  it("indexes records by systemId, sid and address, and tells listeners", async () => {
    const [a, b] = pair();
    const seen: [string, boolean][] = [];
    b.directory.onChange((id, r) => seen.push([id, r !== undefined]));
    await a.directory.announce(node("n1", { attachedAt: 2000 }));
    await a.directory.announce(node("n2", { attachedAt: 1000 }));
    expect(b.directory.get("n1")?.sid).toBe("sid-n1");
    expect(b.directory.bySid("sid-n2")?.systemId).toBe("n2");
    expect(b.directory.membersOf("math@fame.fabric").map((r) => r.systemId)).toEqual(["n2", "n1"]);
    expect(b.directory.membersOf("math@/fabric/n1").map((r) => r.systemId)).toEqual(["n1"]);
    expect(b.directory.membersOf("nobody@fame.fabric")).toEqual([]);
    expect(await a.directory.update("n1", { draining: true, addresses: [] })).toBe(true);
    expect(b.directory.get("n1")?.draining).toBe(true);
    expect(b.directory.membersOf("math@/fabric/n1")).toEqual([]);
    expect(await b.directory.update("n1", { draining: false })).toBe(false); // not b's record
    // the same patch again (a node rebinding in a loop): nothing written, nobody told
    const bucket = (a.directory as unknown as { bucket: { put: (...args: unknown[]) => unknown } }).bucket;
    const put = vi.spyOn(bucket, "put");
    for (let i = 0; i < 50; i++)
      expect(await a.directory.update("n1", { draining: true, addresses: [] })).toBe(true);
    expect(put).not.toHaveBeenCalled();
    expect(seen).toEqual([
      ["n1", true],
      ["n2", true],
      ["n1", true],
    ]);
    // a change is written
    expect(await a.directory.update("n1", { draining: false })).toBe(true);
    expect(put).toHaveBeenCalledTimes(1);
    put.mockRestore();
  });

  it("withdraw removes only the announcing sentinel's record of that instance", async () => {
    const [a, b] = pair();
    await a.directory.announce(node("n1", { sentinelId: "s1" }));
    expect(await a.directory.withdraw("n1", "other-instance")).toBe(false);
    // the node moved to b's sentinel (same instance): a's late withdraw must not remove it
    await b.directory.announce(node("n1", { sentinelId: "s2" }));
    expect(await a.directory.update("n1", { draining: true })).toBe(false); // a stopped refreshing it
    expect(await a.directory.withdraw("n1", "n1-i1")).toBe(false);
    expect(a.directory.get("n1")?.sentinelId).toBe("s2");
    expect(await b.directory.withdraw("n1", "n1-i1")).toBe(true);
    expect(a.directory.get("n1")).toBeUndefined();
    expect(a.directory.bySid("sid-n1")).toBeUndefined();
    expect(a.directory.membersOf("math@fame.fabric")).toEqual([]);
  });

  it("keeps refreshing its own records; a dead sentinel's records age out", async () => {
    vi.useFakeTimers();
    const [a, b] = pair();
    await a.directory.announce(node("n1"));
    await b.directory.announce(node("n2"));
    const heard: [string, boolean][] = [];
    a.directory.onChange((id, r) => heard.push([id, r !== undefined]));
    await b.close(); // b dies: no more refreshes
    for (let i = 0; i < 6; i++) await vi.advanceTimersByTimeAsync(DIRECTORY_MAX_AGE_MS / 4);
    expect(a.directory.get("n1")?.systemId).toBe("n1");
    expect(a.directory.get("n2")).toBeUndefined();
    expect(a.directory.all().map((r) => r.systemId)).toEqual(["n1"]);
    // refreshes that change nothing are not announced; n2 ageing out is
    expect(heard).toEqual([["n2", false]]);
  });
});

describe("memory PinStore", () => {
  it("shares pins, hides expired ones, deletes", async () => {
    const [a, b] = pair();
    const changes: string[] = [];
    b.pins.onChange((c, cid, p) => changes.push(`${c}/${cid}:${p?.replicaSystemId ?? "-"}`));
    const exp = Date.now() + 60_000;
    await a.pins.put("client.sid", "cid\u0000x", { replicaSystemId: "r1", replicaSid: "rs1", exp });
    expect(b.pins.get("client.sid", "cid\u0000x")).toEqual({ replicaSystemId: "r1", replicaSid: "rs1", exp });
    expect(b.pins.get("client.sid", "other")).toBeUndefined();
    await a.pins.put("c2", "x", { replicaSystemId: "r2", replicaSid: "rs2", exp: Date.now() - 1 });
    expect(b.pins.get("c2", "x")).toBeUndefined();
    await b.pins.delete("client.sid", "cid\u0000x");
    expect(a.pins.get("client.sid", "cid\u0000x")).toBeUndefined();
    expect(changes).toEqual(["client.sid/cid\u0000x:r1", "c2/x:r2", "client.sid/cid\u0000x:-"]);
  });
});

describe("memory TicketLedger", () => {
  it("spends a ticket once across the hub", async () => {
    const [a, b] = pair();
    const exp = Date.now() + 120_000;
    expect(await a.tickets.spend("jti-1", exp)).toBe(true);
    expect(await b.tickets.spend("jti-1", exp)).toBe(false);
    expect(await a.tickets.spend("jti-1", exp)).toBe(false);
    expect(await b.tickets.spend("jti-2", exp)).toBe(true);
  });

  it("concurrent spends: exactly one wins", async () => {
    const [a, b] = pair();
    const results = await Promise.all([
      a.tickets.spend("j", 1),
      b.tickets.spend("j", 1),
      a.tickets.spend("j", 1),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
  });
});

describe("memory ElectionStore", () => {
  it("racing claimants: one holder, the loser gets the winner", async () => {
    const [a, b] = pair();
    const [x, y] = await Promise.all([
      a.elections.claim("pool@fame.fabric", { holder: "r1", sentinelId: "s1" }),
      b.elections.claim("pool@fame.fabric", { holder: "r2", sentinelId: "s2" }),
    ]);
    expect(x).toEqual(y);
    expect(["r1", "r2"]).toContain(x.holder);
    expect(x.epoch).toBe(1);
    expect(a.elections.current("pool@fame.fabric")?.holder).toBe(x.holder);
    expect(b.elections.current("pool@fame.fabric")?.holder).toBe(x.holder);
  });

  it("renew extends the holder's lease; a takeover waits for the lease to end", async () => {
    vi.useFakeTimers();
    const [a, b] = pair();
    const first = await a.elections.claim("p", { holder: "r1", sentinelId: "s1", leaseMs: 3000 });
    vi.advanceTimersByTime(2000);
    expect((await a.elections.renew("p", "r1", 3000))?.expiresAt).toBe(Date.now() + 3000);
    expect(await b.elections.renew("p", "r2")).toBeUndefined();
    vi.advanceTimersByTime(2000);
    expect((await b.elections.claim("p", { holder: "r2", sentinelId: "s2" })).holder).toBe("r1");
    vi.advanceTimersByTime(1001); // r1 stopped renewing
    expect(b.elections.current("p")).toBeUndefined();
    const taken = await b.elections.claim("p", { holder: "r2", sentinelId: "s2" });
    expect(taken).toMatchObject({ holder: "r2", sentinelId: "s2", epoch: first.epoch + 1 });
    expect(await a.elections.renew("p", "r1")).toBeUndefined();
    await b.elections.release("p", "r2");
    expect(a.elections.current("p")).toBeUndefined();
    expect((await a.elections.claim("p", { holder: "r1", sentinelId: "s1" })).epoch).toBe(first.epoch + 2);
  });

  it("refuses a lease out of range", async () => {
    const [a] = pair();
    await expect(a.elections.claim("p", { holder: "r", sentinelId: "s", leaseMs: 0 })).rejects.toThrow(
      RangeError,
    );
    await expect(
      a.elections.claim("p", { holder: "r", sentinelId: "s", leaseMs: 3_600_000 }),
    ).rejects.toThrow(RangeError);
  });
});

describe("memory SessionStore", () => {
  it("the first placement wins; put moves; delete forgets", async () => {
    const [a, b] = pair();
    const p1 = { replicaSystemId: "r1", owner: "o", lastSeen: 1 };
    const p2 = { replicaSystemId: "r2", owner: "o", lastSeen: 2 };
    const [x, y] = await Promise.all([a.sessions.place("sess", p1), b.sessions.place("sess", p2)]);
    expect(x).toEqual(y);
    expect(b.sessions.get("sess")).toEqual(x);
    await b.sessions.put("sess", p2);
    expect(a.sessions.get("sess")).toEqual(p2);
    expect([...a.sessions.entries()]).toEqual([["sess", p2]]);
    await a.sessions.delete("sess");
    expect(b.sessions.get("sess")).toBeUndefined();
    expect([...b.sessions.entries()]).toEqual([]);
  });
});
