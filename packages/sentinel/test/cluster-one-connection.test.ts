import { afterEach, describe, expect, it } from "vitest";
import { attach, type Cluster, record, startCluster } from "./cluster-harness.js";

/**
 * A node has one live connection in a cluster, as at one sentinel (audit round 14: attached to
 * two sentinels at once, its calls placed at one were answered at the other, and the first
 * took an honest replica for stalled). The later attach wins; the earlier connection ends like
 * a superseded one.
 */
let cluster: Cluster | undefined;

afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

describe("one connection per node in a cluster", () => {
  it("ends the connection at the first sentinel once the node's record shows it attached to another later", async () => {
    cluster = startCluster(["A", "B"]);
    const [a, b] = cluster.members as [
      NonNullable<Cluster["members"][0]>,
      NonNullable<Cluster["members"][0]>,
    ];
    const first = await attach(a, "n1");
    await record(b.state, "n1", (r) => r.sentinelId === "A");
    expect(first.link.closed).toBeUndefined();
    const second = await attach(b, "n1");
    await record(a.state, "n1", (r) => r.sentinelId === "B");
    expect(first.link.closed).toEqual({ code: 4000, reason: "attached to another sentinel" });
    const attachedAtA = (a.sentinel.status()["nodes"] as { systemId: string }[]).map((n) => n.systemId);
    expect(attachedAtA).not.toContain("n1");
    // the connection that won stays, and another node at A is untouched
    expect(second.link.closed).toBeUndefined();
    const other = await attach(a, "n2");
    await record(b.state, "n2");
    expect(other.link.closed).toBeUndefined();
  });
});
