import { describe, expect, it } from "vitest";
import { type GateEntry, WorkGate } from "../src/work-gate.js";

function released(e: GateEntry): () => void {
  if (!("release" in e)) throw new Error(`expected a turn, got retry after ${e.retryAfterSec} s`);
  return e.release;
}

describe("WorkGate", () => {
  it("lets maxActive in at once, queues the next ones in order, refuses beyond the queue", async () => {
    const gate = new WorkGate({ maxActive: 2, maxQueued: 2 });
    const a = released(await gate.enter());
    const b = released(await gate.enter());
    expect(gate.inProgress).toBe(2);
    const order: string[] = [];
    const turn = (name: string) =>
      gate.enter().then((e) => {
        order.push(name);
        return released(e);
      });
    const c = turn("c");
    const d = turn("d");
    expect(gate.queued).toBe(2);
    const full = await gate.enter();
    expect(full).toEqual({ retryAfterSec: 1 });
    a();
    const releaseC = await c;
    b();
    const releaseD = await d;
    expect(order).toEqual(["c", "d"]);
    expect(gate.inProgress).toBe(2);
    releaseC();
    releaseD();
    expect(gate.inProgress).toBe(0);
    expect(gate.queued).toBe(0);
  });

  it("a release counts once, however often it is called", async () => {
    const gate = new WorkGate({ maxActive: 1, maxQueued: 0 });
    const a = released(await gate.enter());
    a();
    a();
    expect(gate.inProgress).toBe(0);
    released(await gate.enter());
    expect(gate.inProgress).toBe(1);
  });

  it("hints a wait from the queue's drain rate, bounded to 1..60 s", async () => {
    let t = 0;
    const gate = new WorkGate({ maxActive: 1, maxQueued: 4, now: () => t });
    // completions every 500 ms: 2 per second
    for (let i = 0; i < 4; i++) {
      const r = released(await gate.enter());
      t += 500;
      r();
    }
    released(await gate.enter());
    const queued = Array.from({ length: 4 }, () => gate.enter());
    const hint = await gate.enter();
    // 1 in progress + 4 queued at 2/s: 2.5 s, rounded up
    expect(hint).toEqual({ retryAfterSec: 3 });
    expect(queued).toHaveLength(4);

    const slow = new WorkGate({ maxActive: 1, maxQueued: 0, now: () => t });
    const r1 = released(await slow.enter());
    t += 600_000;
    r1();
    const r2 = released(await slow.enter());
    t += 600_000;
    r2();
    released(await slow.enter());
    expect(await slow.enter()).toEqual({ retryAfterSec: 60 });
  });

  it("takes turns round the principals that wait, each principal's waiters in order", async () => {
    const gate = new WorkGate({ maxActive: 1, maxQueued: 10 });
    const first = released(await gate.enter("flood"));
    const order: string[] = [];
    // each waiter notes its turn and ends it at once, which hands the next turn over
    const wait = (key: string, name: string) =>
      gate.enter(key).then((e) => {
        order.push(name);
        released(e)();
      });
    const turns = [
      ...["f1", "f2", "f3", "f4"].map((n) => wait("flood", n)),
      wait("calm", "c1"),
      wait("other", "o1"),
      wait("calm", "c2"),
    ];
    expect(gate.queued).toBe(7);
    first();
    await Promise.all(turns);
    // flood had four waiting, but calm and other were served in the first round
    expect(order).toEqual(["f1", "c1", "o1", "f2", "c2", "f3", "f4"]);
    expect(gate.inProgress).toBe(0);
    expect(gate.queued).toBe(0);
  });

  it("when full, a newcomer pushes out the newest waiter of the principal holding the most places", async () => {
    const gate = new WorkGate({ maxActive: 1, maxQueued: 4 });
    const first = released(await gate.enter("flood"));
    const flood = Array.from({ length: 4 }, () => gate.enter("flood"));
    expect(gate.queued).toBe(4);
    const calm = gate.enter("calm");
    // the flood's newest place went to calm; the pushed-out waiter is told when to come back
    expect(await flood[3]).toEqual({ retryAfterSec: 1 });
    expect(gate.queued).toBe(4);
    const calm2 = gate.enter("calm");
    expect(await flood[2]).toEqual({ retryAfterSec: 1 });
    // two places each now: equal shares keep theirs, a third from calm is refused at once
    expect(await gate.enter("calm")).toEqual({ retryAfterSec: 1 });
    expect(await gate.enter("flood")).toEqual({ retryAfterSec: 1 });
    expect(gate.queued).toBe(4);
    first();
    const order: Array<() => void> = [];
    for (const p of [flood[0], calm, flood[1], calm2]) {
      const r = released(await (p as Promise<GateEntry>));
      order.push(r);
      r();
    }
    expect(order).toHaveLength(4);
    expect(gate.inProgress).toBe(0);
    expect(gate.queued).toBe(0);
  });
});
