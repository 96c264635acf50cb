import type { Sentinel } from "@fame/sentinel";
import type { StateBus } from "@fame/state";
import { describe, expect, it } from "vitest";
import { ClusterDrain, drainMemoSubject, drainSubject } from "../src/cluster-drain.js";
import { attachNode, makeSentinel, quiet, replicas } from "./affinity-helpers.js";
import { clusterSentinel, clusterState, MemoryHub } from "./shared-state-helpers.js";

/** core pub/sub between the sentinels of one test (the memory state has no bus) */
function testBus(): StateBus & { published: string[] } {
  const subs = new Map<string, Set<(d: Uint8Array) => void>>();
  return {
    published: [],
    publish(subject, data) {
      this.published.push(subject);
      for (const cb of subs.get(subject) ?? []) cb(data);
    },
    subscribe(subject, cb) {
      let set = subs.get(subject);
      if (set === undefined) {
        set = new Set();
        subs.set(subject, set);
      }
      set.add(cb);
      return () => set.delete(cb);
    },
  };
}

describe("operator drain through another sentinel of the cluster", () => {
  it("asks the node's own sentinel, which drains it; unknown or local ids are not forwarded", async () => {
    const hub = new MemoryHub();
    const bus = testBus();
    const stateA = clusterState(hub);
    const a = clusterSentinel("sa", stateA, []);
    const node = await attachNode(a.s, "r1", ["*.fame.fabric"]);
    // the directory record the owning sentinel announces for its node
    await stateA.fabric.directory.announce({
      systemId: "r1",
      instanceId: "i-r1",
      sid: node.session.sid,
      path: node.session.path,
      sentinelId: "sa",
      principal: node.session.principal,
      logicals: ["*.fame.fabric"],
      addresses: [],
      keys: [],
      name: "",
      draining: false,
      attachedAt: Date.now(),
    });
    const drainA = new ClusterDrain({
      bus,
      directory: stateA.fabric.directory,
      clusterId: "fabric",
      sentinelId: "sa",
      drainLocal: (id) => a.s.drainNode(id, "operator"),
      resumeLocal: (id) => a.s.resumeNode(id),
      log: quiet,
    });
    drainA.listen();
    const stateB = clusterState(hub);
    const drainB = new ClusterDrain({
      bus,
      directory: stateB.fabric.directory,
      clusterId: "fabric",
      sentinelId: "sb",
      drainLocal: () => false,
      resumeLocal: () => "unknown",
      log: quiet,
    });
    expect(drainB.request("nope")).toBeUndefined();
    expect(drainA.request("r1")).toBeUndefined(); // attached here: drained directly, not forwarded
    expect(bus.published).toEqual([]);
    expect(drainB.request("r1")).toBe("sa");
    expect(bus.published).toEqual([drainSubject("fabric", "sa")]);
    const nodes = () => a.s.status()["nodes"] as { systemId: string; draining: boolean }[];
    expect(nodes().find((n) => n.systemId === "r1")?.draining).toBe(true);
    // and the operator resumes it the same way
    expect(drainB.request("r1", "resume")).toBe("sa");
    expect(nodes().find((n) => n.systemId === "r1")?.draining).toBe(false);
    drainA.close();
  });

  it("ignores malformed requests from the bus", () => {
    const bus = testBus();
    const drained: string[] = [];
    const d = new ClusterDrain({
      bus,
      directory: { get: () => undefined },
      clusterId: "fabric",
      sentinelId: "sa",
      drainLocal: (id) => {
        drained.push(id);
        return true;
      },
      resumeLocal: (id) => {
        drained.push(`resume ${id}`);
        return "resumed";
      },
      stalledLocal: (id, address, by) => drained.push(`stalled ${id} ${address} ${by}`),
      log: quiet,
    });
    d.listen();
    const subject = drainSubject("fabric", "sa");
    for (const bad of [
      "not json",
      "{}",
      '{"systemId":"a/b"}',
      `{"systemId":"${"x".repeat(300)}"}`,
      `{"systemId":"ok_4","pad":"${"x".repeat(1100)}"}`,
      '{"systemId":"ok_5","action":"stalled","address":"not an address","by":"sb"}',
      '{"systemId":"ok_5","action":"stalled","address":"ledger@fame.fabric","by":"s b"}',
      "[1]",
      '{"systemId":"ok_2","action":"stop"}',
    ])
      bus.publish(subject, Buffer.from(bad));
    bus.publish(subject, Buffer.from('{"systemId":"ok_1"}'));
    bus.publish(subject, Buffer.from('{"systemId":"ok_3","action":"resume"}'));
    bus.publish(
      subject,
      Buffer.from('{"systemId":"ok_6","action":"stalled","address":"ledger@fame.fabric","by":"sb"}'),
    );
    expect(drained).toEqual(["ok_1", "resume ok_3", "stalled ok_6 ledger@fame.fabric sb"]);
  });

  it("an operator's drain follows the node to another sentinel it re-attaches to (audit round 11)", async () => {
    const bus = testBus();
    const MATH = "math@fame.fabric";
    const pools = [{ address: MATH, affinity: "session", draining_timeout_sec: 0 }];
    const wire = (sentinelId: string, s: Sentinel) => {
      const d = new ClusterDrain({
        bus,
        directory: { get: () => undefined },
        clusterId: "fabric",
        sentinelId,
        drainLocal: (id) => s.drainNode(id, "operator"),
        resumeLocal: (id) => s.resumeNode(id),
        memoLocal: (id, drained) => s.applyDrainMemo(id, drained),
        log: quiet,
      });
      d.listen();
      s.drainMemo = (id, drained) => d.announce(id, drained);
      return d;
    };
    const a = makeSentinel(pools).s;
    const b = makeSentinel(pools).s;
    wire("sa", a);
    wire("sb", b);
    const draining = (s: Sentinel, id: string) =>
      (s.status()["nodes"] as { systemId: string; draining: boolean }[]).find((n) => n.systemId === id)
        ?.draining;
    await replicas(a, MATH, ["r1", "r2"]);
    expect(a.drainNode("r1", "operator")).toBe(true);
    expect(bus.published).toContain(drainMemoSubject("fabric"));
    // r1 drops its link to sa and attaches to sb: draining there as soon as it binds
    await replicas(b, MATH, ["r1"]);
    expect(draining(b, "r1")).toBe(true);
    // resumed at sb: every sentinel forgets the drain (sa resumes its own view of r1 too)
    expect(b.resumeNode("r1")).toBe("resumed");
    expect(draining(a, "r1")).toBe(false);
    await replicas(b, MATH, ["r1"]);
    expect(draining(b, "r1")).toBe(false);
    // a drain remembered for a node attached nowhere here is forgotten on resume
    expect(a.drainNode("r2", "operator")).toBe(true);
    expect(b.resumeNode("r2")).toBe("forgotten");
    expect(b.resumeNode("r2")).toBe("unknown");
    expect(draining(a, "r2")).toBe(false);
  });

  it("ignores malformed drain memos, and its own", () => {
    const bus = testBus();
    const memos: string[] = [];
    const d = new ClusterDrain({
      bus,
      directory: { get: () => undefined },
      clusterId: "fabric",
      sentinelId: "sa",
      drainLocal: () => false,
      resumeLocal: () => "unknown",
      memoLocal: (id, drained) => memos.push(`${id} ${drained}`),
      ejectedLocal: (id, address, forMs, strikes) =>
        memos.push(`${id} ejected ${address} ${forMs} ${strikes}`),
      log: quiet,
    });
    d.listen();
    const subject = drainMemoSubject("fabric");
    for (const bad of [
      "not json",
      "[1]",
      "null",
      '{"systemId":"a/b","drained":true,"by":"sb"}',
      '{"systemId":"ok_1","drained":"yes","by":"sb"}',
      '{"systemId":"ok_1","drained":true}',
      '{"systemId":"ok_1","drained":true,"by":"s b"}',
      `{"systemId":"ok_1","drained":true,"by":"sb","pad":"${"x".repeat(1100)}"}`,
      '{"systemId":"ok_1","ejected":{"address":"nope","forMs":1000,"strikes":1},"by":"sb"}',
      '{"systemId":"ok_1","ejected":{"address":"ledger@fame.fabric","forMs":-1,"strikes":1},"by":"sb"}',
      '{"systemId":"ok_1","ejected":{"address":"ledger@fame.fabric","forMs":1e15,"strikes":1},"by":"sb"}',
      '{"systemId":"ok_1","ejected":{"address":"ledger@fame.fabric","forMs":1000,"strikes":0},"by":"sb"}',
      '{"systemId":"ok_1","ejected":[],"by":"sb"}',
    ])
      bus.publish(subject, Buffer.from(bad));
    d.announce("mine", true); // its own, back from NATS
    bus.publish(subject, Buffer.from('{"systemId":"ok_2","drained":true,"by":"sb"}'));
    bus.publish(subject, Buffer.from('{"systemId":"ok_2","drained":false,"by":"sc"}'));
    d.announceEjection("mine", "ledger@fame.fabric", 1000, 1); // its own again
    bus.publish(
      subject,
      Buffer.from(
        '{"systemId":"ok_3","ejected":{"address":"ledger@fame.fabric","forMs":30000,"strikes":2},"by":"sb"}',
      ),
    );
    expect(memos).toEqual(["ok_2 true", "ok_2 false", "ok_3 ejected ledger@fame.fabric 30000 2"]);
  });
});
