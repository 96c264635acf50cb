import { describe, expect, it } from "vitest";
import { StaticSentinelPlacement, stableSystemId } from "../src/index.js";

const KEY = new Uint8Array(32).fill(3);

describe("StaticSentinelPlacement", () => {
  it("derives the systemId from (principal, instance): the same again, another for either changed", () => {
    const placement = new StaticSentinelPlacement("sentinel0", KEY);
    const a = placement.place({ clientId: "agent", instanceId: "i1" });
    expect(a.systemId).toBe(stableSystemId(KEY, "agent", "i1"));
    expect(a.assignedPath).toBe(`/sentinel0/${a.systemId}`);
    expect(placement.place({ clientId: "agent", instanceId: "i1" })).toEqual(a);
    // an insider naming someone else's instanceId gets an id of its own
    expect(placement.place({ clientId: "intruder", instanceId: "i1" }).systemId).not.toBe(a.systemId);
    expect(placement.place({ clientId: "agent", instanceId: "i2" }).systemId).not.toBe(a.systemId);
  });

  it("without a key, ids hold within one process and differ between two", () => {
    const one = new StaticSentinelPlacement("sentinel0");
    const two = new StaticSentinelPlacement("sentinel0");
    const req = { clientId: "agent", instanceId: "i1" };
    expect(one.place(req).systemId).toBe(one.place(req).systemId);
    expect(two.place(req).systemId).not.toBe(one.place(req).systemId);
  });

  it("uses a proposed systemId as given (the route passes one only when policy allows)", () => {
    const placement = new StaticSentinelPlacement("sentinel0", KEY);
    expect(placement.place({ clientId: "agent", instanceId: "i1", systemId: "keepMe" })).toEqual({
      systemId: "keepMe",
      assignedPath: "/sentinel0/keepMe",
    });
  });
});
