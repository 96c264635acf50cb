import { sessionKey } from "@fame/sentinel";
import { afterEach, describe, expect, it } from "vitest";
import { attach, type Cluster, record, startCluster } from "./cluster-harness.js";
import { until } from "./shared-state-helpers.js";
import type { TestNode } from "./test-node.js";

/**
 * Session promises of a cluster: a session placed through one sentinel counts at every other.
 * Two Sentinel instances share a memory store and are linked in process; replicas attach to A,
 * clients to either.
 */
const EXCL = "excl@fame.fabric";
let cluster: Cluster | undefined;

afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

const call = (c: TestNode, corrId: string, sessionId: string) =>
  c.send({
    to: EXCL,
    replyTo: `rpc@${c.session.path}`,
    corrId,
    meta: { "session-id": sessionId },
    frame: {
      type: "Data",
      codec: "json",
      payload: { jsonrpc: "2.0", id: corrId, method: "whoami" } as never,
    },
  });
const receiverOf = (rs: TestNode[], corrId: string) =>
  rs.find((r) => r.link.frames("Data").some((e) => e.corrId === corrId))?.session.id;
const nackOf = (c: TestNode, corrId: string) => {
  const env = c.link.frames("DeliveryAck").find((e) => e.corrId === corrId);
  return env?.frame.type === "DeliveryAck" ? env.frame.code : undefined;
};

describe("an exclusive pool across two sentinels", () => {
  it("gives a replica to one session cluster-wide: a session placed through A holds it at B too", async () => {
    cluster = startCluster(["A", "B"], [{ address: EXCL, affinity: "session", exclusive: true }]);
    const [a, b] = cluster.members as [
      NonNullable<Cluster["members"][0]>,
      NonNullable<Cluster["members"][0]>,
    ];
    const rs: TestNode[] = [];
    for (const id of ["r1", "r2"]) {
      const r = await attach(a, id, ["*.fame.fabric"]);
      await r.send({ frame: { type: "AddressBind", address: EXCL } });
      await record(b.state, id, (rec) => rec.addresses.includes(EXCL));
      rs.push(r);
    }
    const c = await attach(a, "c");
    await call(c, "c1", "C1");
    await until(() => receiverOf(rs, "c1") !== undefined);
    const held = receiverOf(rs, "c1");
    await until(() => b.state.sessions.get(sessionKey(EXCL, "C1")) !== undefined);
    // three other clients at B: one replica is left for them, not two
    const others = [await attach(b, "d0"), await attach(b, "d1"), await attach(b, "d2")];
    for (const [i, d] of others.entries()) await call(d, `d${i}`, `D${i}`);
    await until(() => others.every((d, i) => nackOf(d, `d${i}`) !== undefined || receiverOf(rs, `d${i}`)));
    const placed = others.map((_, i) => receiverOf(rs, `d${i}`)).filter((r) => r !== undefined);
    expect(placed).toHaveLength(1);
    expect(placed[0]).not.toBe(held);
    expect(others.map((d, i) => nackOf(d, `d${i}`)).filter((x) => x !== undefined)).toEqual([
      "no_free_replica",
      "no_free_replica",
    ]);
  });
});

describe("a replica on another sentinel", () => {
  it("is named on the dashboard and the status page, from its directory record", async () => {
    cluster = startCluster(["A", "B"]);
    const [a, b] = cluster.members as [
      NonNullable<Cluster["members"][0]>,
      NonNullable<Cluster["members"][0]>,
    ];
    const r = await attach(b, "r", ["*.fame.fabric"], [], undefined, "replica-on-b");
    await r.send({ frame: { type: "AddressBind", address: EXCL } });
    await record(a.state, "r", (rec) => rec.addresses.includes(EXCL));
    await until(() => a.sentinel.dashboardReading().pools.some((p) => p.address === EXCL));
    const pool = a.sentinel.dashboardReading().pools.find((p) => p.address === EXCL);
    expect(pool?.replicas.map((x) => [x.id, x.name])).toEqual([["r", "replica-on-b"]]);
    // and on the status page, which `fame status` labels pool members from
    expect(a.sentinel.status()["remoteNames"]).toEqual({ r: "replica-on-b" });
  });
});
