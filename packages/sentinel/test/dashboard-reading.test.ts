import { describe, expect, it } from "vitest";
import { attachNode, makeSentinel } from "./test-node.js";

describe("the dashboard's reading of the sentinel", () => {
  it("lists pools with their replicas, calls, state and refusal totals", async () => {
    const s = makeSentinel("open");
    const r1 = await attachNode(s, "r1", ["*.fame.fabric"], "open");
    const r2 = await attachNode(s, "r2", ["*.fame.fabric"], "open");
    const c = await attachNode(s, "c1", [], "open");
    for (const r of [r1, r2]) await r.send({ frame: { type: "AddressBind", address: "math@fame.fabric" } });
    for (let i = 0; i < 3; i++) {
      await c.send({
        to: "math@fame.fabric",
        replyTo: `rpc@${c.session.path}`,
        corrId: `c${i}`,
        frame: { type: "Data", codec: "json", payload: { i } },
      });
    }
    expect(s.drainNode("r2", "operator")).toBe(true);
    const reading = s.dashboardReading();
    expect(reading.sentinelId).toBe("s0");
    expect(reading.attachedNodes).toBe(3);
    expect(reading.pools).toHaveLength(1);
    const pool = reading.pools[0]!;
    expect(pool.address).toBe("math@fame.fabric");
    expect(pool.binding).toBe("pooled");
    expect(pool.replicas.map((r) => r.id).sort()).toEqual(["r1", "r2"]);
    expect(pool.replicas.reduce((n, r) => n + r.calls, 0)).toBe(3);
    expect(pool.replicas.find((r) => r.id === "r2")).toMatchObject({ draining: true, path: r2.session.path });
    expect(pool.replicas.find((r) => r.id === "r1")).toMatchObject({ draining: false, healthy: true });
    // these test nodes gave no name at attach
    expect(pool.replicas.every((r) => r.name === undefined)).toBe(true);
    // every refusal code is there from the start, at 0, so the page's series are stable
    expect(reading.refusals).toMatchObject({
      rate_limited: 0,
      replay: 0,
      stale_envelope: 0,
      not_authorized: 0,
    });
    expect(reading.failovers).toEqual({ replicaUnavailable: 0, sessionsMoved: 0, channelsMoved: 0 });
  });
});
