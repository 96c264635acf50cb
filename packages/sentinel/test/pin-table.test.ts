import { describe, expect, it } from "vitest";
import { ClientGroup, Pin, PinTable } from "../src/stickiness/pin-table.js";

/** what the table says of each client, by sid */
function counts(t: PinTable, sids: string[]): number[] {
  return sids.map((sid) => t.pinsOfClient(sid));
}

/** the table's client entry: a lone pin or a group (the field is private) */
function heldFor(t: PinTable, sid: string): unknown {
  return (t as unknown as { clients: Map<string, unknown> }).clients.get(sid);
}

describe("pin table: clients with one pin have no group object", () => {
  it("keeps a client's only pin alone, makes a group at its second, and goes back at one", () => {
    const t = new PinTable();
    const a = t.set("c1", "alice", "r1", 100, 0, "high");
    expect(heldFor(t, "alice")).toBe(a);
    expect(t.pinsOfClient("alice")).toBe(1);
    const b = t.set("c2", "alice", "r2", 100, 0, "high");
    expect(heldFor(t, "alice")).toBeInstanceOf(ClientGroup);
    expect(t.pinsOfClient("alice")).toBe(2);
    // the pins share one sid string
    expect(b.clientSid).toBe(a.clientSid);
    expect(t.delete(a)).toBe(true);
    expect(heldFor(t, "alice")).toBe(b);
    expect(b.cNext).toBeUndefined();
    expect(b.cPrev).toBeUndefined();
    expect(t.pinsOfClient("alice")).toBe(1);
    expect(t.delete(b)).toBe(true);
    expect(heldFor(t, "alice")).toBeUndefined();
    expect(t.size).toBe(0);
  });

  it("drops every pin of a client, alone or grouped, and only theirs", () => {
    const t = new PinTable();
    t.set("a1", "alice", "r1", 100, 0, "high");
    for (let i = 0; i < 5; i++) t.set(`b${i}`, "bob", `r${i % 2}`, 100, 0, "low");
    t.set("c1", "carol", "r1", 100, 0, "high");
    expect(counts(t, ["alice", "bob", "carol"])).toEqual([1, 5, 1]);
    expect(t.deleteClient("bob")).toBe(5);
    expect(counts(t, ["alice", "bob", "carol"])).toEqual([1, 0, 1]);
    expect(t.deleteClient("alice")).toBe(1);
    expect(t.deleteClient("alice")).toBe(0);
    expect(t.size).toBe(1);
    expect(t.get("c1")?.clientSid).toBe("carol");
  });

  it("drops a replica's pins whatever their clients hold, leaving each client's count right", () => {
    const t = new PinTable();
    t.set("a1", "alice", "r1", 100, 0, "high");
    t.set("a2", "alice", "r2", 100, 0, "high");
    t.set("b1", "bob", "r1", 100, 0, "high");
    t.set("c1", "carol", "r2", 100, 0, "high");
    t.set("c2", "carol", "r2", 100, 0, "high");
    expect(t.deleteReplica("r2")).toBe(3);
    expect(counts(t, ["alice", "bob", "carol"])).toEqual([1, 1, 0]);
    expect(heldFor(t, "alice")).toBeInstanceOf(Pin);
    expect(t.pinsPerReplica()).toEqual(new Map([["r1", 2]]));
    expect(t.deleteReplica("r1")).toBe(2);
    expect(t.size).toBe(0);
    expect(counts(t, ["alice", "bob", "carol"])).toEqual([0, 0, 0]);
  });

  it("replaces a pin under the same key without counting it twice", () => {
    const t = new PinTable();
    t.set("k", "alice", "r1", 100, 0, "low");
    t.set("k", "alice", "r2", 100, 0, "high");
    expect(t.pinsOfClient("alice")).toBe(1);
    expect(t.get("k")?.replica.id).toBe("r2");
    t.set("k", "bob", "r2", 100, 0, "high");
    expect(counts(t, ["alice", "bob"])).toEqual([0, 1]);
  });

  it("stays consistent through a random mix of sets and deletes", () => {
    const t = new PinTable();
    const model = new Map<string, string>(); // key → client
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let step = 0; step < 5000; step++) {
      const key = `k${rnd(200)}`;
      const client = `s${rnd(20)}`;
      const op = rnd(10);
      if (op < 6) {
        t.set(key, client, `r${rnd(4)}`, 100, 0, "high");
        model.set(key, client);
      } else if (op < 8) {
        const pin = t.get(key);
        expect(pin === undefined ? false : t.delete(pin)).toBe(model.delete(key));
      } else if (op < 9) {
        const n = t.deleteClient(client);
        let expected = 0;
        for (const [k, c] of model) {
          if (c !== client) continue;
          model.delete(k);
          expected++;
        }
        expect(n).toBe(expected);
      } else {
        const replica = `r${rnd(4)}`;
        const held = [...t.values()].filter((p) => p.replica.id === replica).map((p) => p.key);
        expect(t.deleteReplica(replica)).toBe(held.length);
        for (const k of held) model.delete(k);
      }
      expect(t.size).toBe(model.size);
    }
    const perClient = new Map<string, number>();
    for (const c of model.values()) perClient.set(c, (perClient.get(c) ?? 0) + 1);
    for (let c = 0; c < 20; c++) expect(t.pinsOfClient(`s${c}`)).toBe(perClient.get(`s${c}`) ?? 0);
  });
});
