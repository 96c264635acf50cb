import { afterEach, describe, expect, it, vi } from "vitest";
import { DIRECTORY_UPDATE_GAP_MS } from "../src/cluster/node-directory-sync.js";
import { attach, type Cluster, record, startCluster } from "./cluster-harness.js";

/**
 * A node's binds and unbinds reach the cluster's node directory, a replicated JetStream write
 * in production. A node binding and unbinding in a loop (audit round 7: ~870 writes a second
 * from one connection, each the whole record) gets a few writes a second, and the last state
 * always arrives.
 */

const MATH = "math@fame.fabric";
let cluster: Cluster | undefined;

afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

describe("node directory writes for binds and unbinds", () => {
  it("takes a node's first change at once, then at most one write per gap, ending on the last state", async () => {
    cluster = startCluster(["A", "B"]);
    const [a, b] = cluster.members as [
      NonNullable<Cluster["members"][0]>,
      NonNullable<Cluster["members"][0]>,
    ];
    const r = await attach(b, "r", ["*.fame.fabric"]);
    await record(a.state, "r");
    const update = vi.spyOn(b.state.directory, "update");
    const started = Date.now();
    await r.send({ frame: { type: "AddressBind", address: MATH } });
    expect(update).toHaveBeenCalledTimes(1); // the first change is not held
    await record(a.state, "r", (rec) => rec.addresses.includes(MATH));
    for (let i = 0; i < 200; i++) {
      await r.send({ frame: { type: "AddressUnbind", address: MATH } });
      await r.send({ frame: { type: "AddressBind", address: MATH } });
    }
    await r.send({ frame: { type: "AddressUnbind", address: MATH } });
    // the last state (unbound) arrives once the gap has passed
    await record(a.state, "r", (rec) => !rec.addresses.includes(MATH));
    const elapsed = Date.now() - started;
    expect(update.mock.calls.length).toBeLessThanOrEqual(2 + Math.ceil(elapsed / DIRECTORY_UPDATE_GAP_MS));
    // every frame was answered all the same
    expect(r.link.frames("AddressBindAck")).toHaveLength(201);
    update.mockRestore();
  });
});
