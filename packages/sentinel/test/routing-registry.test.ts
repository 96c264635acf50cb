import { describe, expect, it } from "vitest";
import {
  BIND_ERROR_WIRE_CODE,
  coverageOf,
  grantCovers,
  LogicalRegistry,
  parseLogicalAddress,
} from "../src/routing/index.js";

interface Node {
  id: string;
}
const n = (id: string): Node => ({ id });
const WILD = ["*.fame.fabric"];
const EXACT = ["fame.fabric"];

describe("address parsing and grants", () => {
  it("parses logical addresses and refuses malformed ones", () => {
    expect(parseLogicalAddress("math@fame.fabric")).toEqual({ name: "math", logical: "fame.fabric" });
    expect(parseLogicalAddress("_a.b-c@x1.y-2.fame.fabric")).toBeDefined();
    const bad = [
      "",
      "noat",
      "@fame.fabric",
      "math@",
      "math@Fame.Fabric",
      "math@/phys/path",
      "bad name@fame.fabric",
      "-x@fame.fabric",
      `${"a".repeat(65)}@fame.fabric`,
      "math@-bad.fabric",
      "math@fame..fabric",
      "math@*.fame.fabric",
      `math@${Array.from({ length: 64 }, () => "abc").join(".")}`,
    ];
    for (const address of bad) expect(parseLogicalAddress(address), address).toBeUndefined();
  });

  it("wildcards cover the base and subdomains, never look-alikes", () => {
    expect(grantCovers("*.fame.fabric", "fame.fabric")).toBe("wildcard");
    expect(grantCovers("*.fame.fabric", "eu.west.fame.fabric")).toBe("wildcard");
    expect(grantCovers("*.fame.fabric", "evilfame.fabric")).toBeUndefined();
    expect(grantCovers("fame.fabric", "fame.fabric")).toBe("exact");
    expect(grantCovers("fame.fabric", "eu.fame.fabric")).toBeUndefined();
    expect(grantCovers("*", "fame.fabric")).toBeUndefined();
    expect(grantCovers("*.", "fame.fabric")).toBeUndefined();
    expect(coverageOf("fame.fabric", ["fame.fabric", "*.fame.fabric"])).toBe("wildcard");
    expect(coverageOf("fame.fabric", ["other.fabric", "fame.fabric"])).toBe("exact");
  });
});

describe("LogicalRegistry", () => {
  it("pools replicas bound through a wildcard", () => {
    const reg = new LogicalRegistry<Node>();
    for (const id of ["r1", "r2", "r3"]) {
      expect(reg.bind("math@fame.fabric", n(id), WILD)).toEqual({ ok: true, mode: "pooled" });
    }
    expect(reg.bind("math@eu.fame.fabric", n("r1"), WILD)).toEqual({ ok: true, mode: "pooled" });
    const pool = reg.resolve("math@fame.fabric");
    expect(pool?.size).toBe(3);
    expect([...(pool?.nodes() ?? [])].map((x) => x.id)).toEqual(["r1", "r2", "r3"]);
    expect(reg.modeOf("math@fame.fabric")).toBe("pooled");
    expect(reg.addressesOf("r1").sort()).toEqual(["math@eu.fame.fabric", "math@fame.fabric"]);
  });

  it("an exact-only grant binds exclusively and conflicts both ways", () => {
    const reg = new LogicalRegistry<Node>();
    expect(reg.bind("db@fame.fabric", n("x"), EXACT)).toEqual({ ok: true, mode: "exclusive" });
    expect(reg.bind("db@fame.fabric", n("y"), EXACT)).toMatchObject({ ok: false, code: "address_conflict" });
    expect(reg.bind("db@fame.fabric", n("w"), WILD)).toMatchObject({ ok: false, code: "address_conflict" });

    expect(reg.bind("math@fame.fabric", n("w"), WILD)).toMatchObject({ ok: true, mode: "pooled" });
    expect(reg.bind("math@fame.fabric", n("x"), EXACT)).toMatchObject({
      ok: false,
      code: "address_conflict",
    });
    expect(reg.resolve("db@fame.fabric")?.size).toBe(1);
    expect(reg.resolve("math@fame.fabric")?.size).toBe(1);
  });

  it("the address frees up for a pool once the exclusive holder leaves", () => {
    const reg = new LogicalRegistry<Node>();
    reg.bind("db@fame.fabric", n("x"), EXACT);
    expect(reg.unbind("db@fame.fabric", "x")).toBe(true);
    expect(reg.resolve("db@fame.fabric")).toBeUndefined();
    expect(reg.bind("db@fame.fabric", n("w"), WILD)).toEqual({ ok: true, mode: "pooled" });
  });

  it("rebinding by the same node is idempotent", () => {
    const reg = new LogicalRegistry<Node>();
    expect(reg.bind("db@fame.fabric", n("x"), EXACT)).toEqual({ ok: true, mode: "exclusive" });
    expect(reg.bind("db@fame.fabric", n("x"), EXACT)).toEqual({ ok: true, mode: "exclusive", again: true });
    reg.bind("m@fame.fabric", n("x"), WILD);
    expect(reg.bind("m@fame.fabric", n("x"), WILD)).toEqual({ ok: true, mode: "pooled", again: true });
    expect(reg.resolve("db@fame.fabric")?.size).toBe(1);
    expect(reg.resolve("m@fame.fabric")?.size).toBe(1);
    expect(reg.addressesOf("x")).toHaveLength(2);
  });

  it("refuses ungranted logicals and malformed addresses", () => {
    const reg = new LogicalRegistry<Node>();
    expect(reg.bind("math@other.fabric", n("x"), WILD)).toMatchObject({
      ok: false,
      code: "logical_not_granted",
    });
    expect(reg.bind("math@fame.fabric", n("x"), [])).toMatchObject({
      ok: false,
      code: "logical_not_granted",
    });
    expect(reg.bind("math@fame.fabric", n("x"), ["*"])).toMatchObject({
      ok: false,
      code: "logical_not_granted",
    });
    expect(reg.bind("math@eu.fame.fabric", n("x"), EXACT)).toMatchObject({
      ok: false,
      code: "logical_not_granted",
    });
    for (const bad of ["math", "math@", "ma th@fame.fabric", "m@/a/b", "m@FAME.fabric"]) {
      expect(reg.bind(bad, n("x"), WILD)).toMatchObject({ ok: false, code: "bad_address" });
    }
    const long = reg.bind(`${"x".repeat(5000)}@fame.fabric`, n("x"), WILD);
    expect(long.ok === false && long.reason.length < 200).toBe(true);
    expect(reg.size).toBe(0);
  });

  it("removeNode cleans every pool and deletes emptied ones", () => {
    const reg = new LogicalRegistry<Node>();
    for (let i = 0; i < 5; i++) reg.bind(`s${i}@fame.fabric`, n("gone"), WILD);
    reg.bind("s0@fame.fabric", n("stay"), WILD);
    reg.bind("s1@fame.fabric", n("stay"), WILD);
    const removed = reg.removeNode("gone");
    expect(removed.sort()).toEqual([0, 1, 2, 3, 4].map((i) => `s${i}@fame.fabric`));
    expect(reg.resolve("s0@fame.fabric")?.has("gone")).toBe(false);
    expect(reg.resolve("s0@fame.fabric")?.size).toBe(1);
    for (const i of [2, 3, 4]) expect(reg.resolve(`s${i}@fame.fabric`)).toBeUndefined();
    expect(reg.size).toBe(2);
    expect(reg.addressesOf("gone")).toEqual([]);
    expect(reg.removeNode("gone")).toEqual([]);
    expect(reg.snapshot().nodes).toBe(1);
  });

  it("unbind only touches the named node", () => {
    const reg = new LogicalRegistry<Node>();
    reg.bind("m@fame.fabric", n("a"), WILD);
    reg.bind("m@fame.fabric", n("b"), WILD);
    expect(reg.unbind("m@fame.fabric", "zz")).toBe(false);
    expect(reg.unbind("nope@fame.fabric", "a")).toBe(false);
    expect(reg.unbind("m@fame.fabric", "a")).toBe(true);
    expect([...(reg.resolve("m@fame.fabric")?.nodes() ?? [])].map((x) => x.id)).toEqual(["b"]);
    expect(reg.addressesOf("a")).toEqual([]);
  });

  it("enforces its bounds with too_many_bindings", () => {
    const perNode = new LogicalRegistry<Node>({ maxAddressesPerNode: 2 });
    perNode.bind("a@fame.fabric", n("x"), WILD);
    perNode.bind("b@fame.fabric", n("x"), WILD);
    expect(perNode.bind("c@fame.fabric", n("x"), WILD)).toMatchObject({
      ok: false,
      code: "too_many_bindings",
    });
    perNode.bind("a@fame.fabric", n("y"), WILD);
    perNode.bind("c@fame.fabric", n("y"), WILD);
    // x holds b already: a rebind at its limit still succeeds
    expect(perNode.bind("b@fame.fabric", n("x"), WILD)).toEqual({ ok: true, mode: "pooled", again: true });

    const perPool = new LogicalRegistry<Node>({ maxMembersPerPool: 2 });
    perPool.bind("a@fame.fabric", n("x"), WILD);
    perPool.bind("a@fame.fabric", n("y"), WILD);
    expect(perPool.bind("a@fame.fabric", n("z"), WILD)).toMatchObject({
      ok: false,
      code: "too_many_bindings",
    });
    expect(perPool.addressesOf("z")).toEqual([]);

    const total = new LogicalRegistry<Node>({ maxAddresses: 1 });
    total.bind("a@fame.fabric", n("x"), WILD);
    expect(total.bind("b@fame.fabric", n("y"), WILD)).toMatchObject({ ok: false, code: "too_many_bindings" });
    expect(total.bind("a@fame.fabric", n("y"), WILD)).toEqual({ ok: true, mode: "pooled" });

    expect(() => new LogicalRegistry<Node>({ maxAddresses: 0 })).toThrow(/maxAddresses/);
  });

  it("drains a node in all its pools and reports a snapshot", () => {
    const reg = new LogicalRegistry<Node>();
    reg.bind("a@fame.fabric", n("x"), WILD);
    reg.bind("b@fame.fabric", n("x"), WILD);
    reg.bind("b@fame.fabric", n("y"), WILD);
    reg.resolve("b@fame.fabric")?.acquire("y");
    reg.setDraining("x", true);
    reg.setHealthy("y", false);
    expect(reg.resolve("a@fame.fabric")?.eligibleCount).toBe(0);
    expect(reg.resolve("b@fame.fabric")?.eligibleCount).toBe(0);
    const snap = reg.snapshot();
    expect(snap).toMatchObject({ addresses: 2, nodes: 2, truncated: false });
    expect(snap.pools[1]).toEqual({
      address: "b@fame.fabric",
      mode: "pooled",
      members: [
        { id: "x", inflight: 0, requests: 0, draining: true, healthy: true },
        { id: "y", inflight: 1, requests: 1, draining: false, healthy: false },
      ],
    });
    // cut short: the busiest pool is listed (b took a request), or the one named first
    expect(reg.snapshot(1)).toMatchObject({ truncated: true, pools: [{ address: "b@fame.fabric" }] });
    expect(reg.snapshot(1, (a) => a === "a@fame.fabric").pools.map((p) => p.address)).toEqual([
      "a@fame.fabric",
    ]);
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
  });

  it("audit round 9: one credential's crowd of idle pools cannot hide the pools that serve", () => {
    const reg = new LogicalRegistry<Node>();
    reg.bind("math@fame.fabric", n("honest"), WILD);
    reg.resolve("math@fame.fabric")?.acquire("honest");
    for (let i = 0; i < 50; i++) reg.bind(`junk${i}@fame.fabric`, n(`m${i % 5}`), WILD);
    // bound again (a sentinel restart): math now comes last in insertion order
    reg.removeNode("honest");
    reg.bind("math@fame.fabric", n("honest"), WILD);
    reg.resolve("math@fame.fabric")?.acquire("honest");
    const snap = reg.snapshot(10);
    expect(snap.truncated).toBe(true);
    expect(snap.pools[0]?.address).toBe("math@fame.fabric");
  });

  it("bounds the addresses one owner's nodes hold together", () => {
    const owners = new Map([
      ["m1", "mallory"],
      ["m2", "mallory"],
      ["v", "victim"],
    ]);
    const reg = new LogicalRegistry<Node>({
      ownerOf: (node) => owners.get(node.id) ?? node.id,
      maxBindingsPerOwner: 3,
    });
    expect(reg.bind("a@fame.fabric", n("m1"), WILD).ok).toBe(true);
    expect(reg.bind("b@fame.fabric", n("m1"), WILD).ok).toBe(true);
    expect(reg.bind("a@fame.fabric", n("m2"), WILD).ok).toBe(true);
    const over = reg.bind("c@fame.fabric", n("m2"), WILD);
    expect(over).toMatchObject({ ok: false, code: "too_many_bindings" });
    expect(over.ok === false && over.reason).toMatch(/credential hold the maximum of 3/);
    // a rebind is not a new binding; another owner is not affected
    expect(reg.bind("a@fame.fabric", n("m1"), WILD)).toMatchObject({ ok: true, again: true });
    expect(reg.bind("c@fame.fabric", n("v"), WILD).ok).toBe(true);
    // what a node gives back (unbind, or leaving) can be taken again
    reg.unbind("b@fame.fabric", "m1");
    expect(reg.bind("c@fame.fabric", n("m2"), WILD).ok).toBe(true);
    reg.removeNode("m2");
    expect(reg.bind("d@fame.fabric", n("m1"), WILD).ok).toBe(true);
    expect(reg.bind("e@fame.fabric", n("m1"), WILD).ok).toBe(true);
    expect(reg.bind("f@fame.fabric", n("m1"), WILD).ok).toBe(false);
  });

  it("lists at most MAX_LISTED_MEMBERS members of a pool, saying how many there are", () => {
    const reg = new LogicalRegistry<Node>({ maxMembersPerPool: 1000 });
    for (let i = 0; i < 300; i++) reg.bind("big@fame.fabric", n(`r${i}`), WILD);
    const pool = reg.snapshot().pools[0]!;
    expect(pool.members).toHaveLength(256);
    expect(pool.memberCount).toBe(300);
  });

  it("maps every refusal to a wire error code", () => {
    expect(BIND_ERROR_WIRE_CODE).toEqual({
      address_conflict: "address_conflict",
      logical_not_granted: "logical_not_granted",
      bad_address: "bad_envelope",
      too_many_bindings: "not_authorized",
      // the access policy's refusal (asked before the registry at AddressBind)
      not_authorized: "not_authorized",
    });
  });
});
