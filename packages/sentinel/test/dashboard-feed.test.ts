import { describe, expect, expectTypeOf, it } from "vitest";
import { SseParser } from "../src/dashboard/browser/sse-parser.js";
import type { WireEvent, WireHello, WireSample, WireState, WireTick } from "../src/dashboard/browser/wire.js";
import {
  type DashboardEvent,
  DashboardFeed,
  type DashboardSample,
  type DashboardState,
  MAX_HELLO_CHARS,
} from "../src/dashboard/dashboard-feed.js";
import type { DashboardReading, ReplicaReading } from "../src/dashboard/dashboard-reading.js";

function replica(id: string, calls: number, extra: Partial<ReplicaReading> = {}): ReplicaReading {
  return {
    id,
    name: `replica-${id}`,
    path: `/s0/${id}`,
    healthy: true,
    draining: false,
    ejected: false,
    active: undefined,
    sessions: 0,
    pins: 1,
    inflight: 0,
    calls,
    ...extra,
  };
}

function reading(
  at: number,
  replicas: ReplicaReading[],
  refusals: Record<string, number> = {},
): DashboardReading {
  return {
    at,
    sentinelId: "s0",
    securityProfile: "strict-overlay",
    connections: 3,
    attachedNodes: 3,
    inflight: 0,
    pools: [
      {
        address: "math@fame.fabric",
        binding: "pooled",
        mode: undefined,
        affinity: undefined,
        sessions: 0,
        replicas,
        members: replicas.length,
        truncated: false,
      },
    ],
    truncated: false,
    poolCount: 1,
    refusals,
    failovers: { replicaUnavailable: 0, sessionsMoved: 0, channelsMoved: 0 },
  };
}

/** a feed over a scripted list of readings; each tick reads the next one */
function scripted(readings: DashboardReading[], capacity?: number) {
  let i = 0;
  const reads = { n: 0 };
  const feed = new DashboardFeed({
    read: () => {
      reads.n++;
      return readings[Math.min(i++, readings.length - 1)]!;
    },
    ...(capacity ? { capacity } : {}),
    intervalMs: 60_000,
  });
  return { feed, reads };
}

function events(frame: string): { event: string; data: unknown }[] {
  return new SseParser().push(frame).map((e) => ({ event: e.event, data: JSON.parse(e.data) }));
}

describe("DashboardFeed", () => {
  it("reads nothing and runs no timer until a page watches, and stops with the last one", () => {
    const { feed, reads } = scripted([reading(0, [replica("a", 0)])]);
    expect(feed.sampling).toBe(false);
    expect(reads.n).toBe(0);
    const one = feed.subscribe(() => {});
    const two = feed.subscribe(() => {});
    expect(feed.sampling).toBe(true);
    expect(reads.n).toBe(1); // the baseline
    one.unsubscribe();
    expect(feed.sampling).toBe(true);
    two.unsubscribe();
    expect(feed.sampling).toBe(false);
    expect(feed.watchers).toBe(0);
  });

  it("turns running totals into per-second rates per replica and per refusal code", () => {
    const { feed } = scripted([
      reading(1_000, [replica("a", 100), replica("b", 50)], { not_authorized: 2 }),
      reading(3_000, [replica("a", 300), replica("b", 50)], { not_authorized: 6, replay: 1 }),
    ]);
    const frames: string[] = [];
    const sub = feed.subscribe((f) => frames.push(f));
    feed.tick();
    const [tick] = events(frames[0]!);
    expect(tick?.event).toBe("tick");
    const { sample, state } = tick!.data as { sample: DashboardSample; state: DashboardState };
    expect(sample.t).toBe(3);
    // an idle replica is left out of the sample (the page draws the gap as 0)
    expect(sample.calls).toEqual({ a: 100 });
    expect(sample.refusals).toEqual({ not_authorized: 2, replay: 0.5 });
    expect(sample.pins).toBe(2);
    expect(state.pools[0]?.replicas.map((r) => [r.id, r.callsPerSec])).toEqual([
      ["a", 100],
      ["b", 0],
    ]);
    sub.unsubscribe();
  });

  it("reports replicas joining, draining and leaving, and keeps them for the next page", () => {
    const { feed } = scripted([
      reading(0, [replica("a", 0), replica("b", 0)]),
      reading(1_000, [replica("a", 5, { draining: true }), replica("b", 5), replica("c", 0)]),
      reading(2_000, [replica("b", 9), replica("c", 2)]),
    ]);
    const sub = feed.subscribe(() => {});
    feed.tick();
    feed.tick();
    const kinds = (list: readonly DashboardEvent[]) => list.map((e) => `${e.kind} ${e.replica}`);
    expect(kinds(feed.events())).toEqual(["draining a", "joined c", "left a"]);
    // each names the replica as it named itself, the page may not have seen it in a state yet
    expect(feed.events().map((e) => e.name)).toEqual(["replica-a", "replica-c", "replica-a"]);
    // a replica new in a second has no earlier total: its first rate is 0, not its whole total
    expect(feed.history()[0]?.calls["c"]).toBeUndefined();
    const hello = events(feed.subscribe(() => {}).hello)[0]!;
    expect(hello.event).toBe("hello");
    const data = hello.data as { history: DashboardSample[]; events: DashboardEvent[] };
    expect(data.history).toHaveLength(2);
    expect(kinds(data.events)).toEqual(["draining a", "joined c", "left a"]);
    sub.unsubscribe();
  });

  it("keeps at most `capacity` samples", () => {
    const readings = Array.from({ length: 10 }, (_, i) => reading(i * 1000, [replica("a", i * 10)]));
    const { feed } = scripted(readings, 3);
    const sub = feed.subscribe(() => {});
    for (let i = 0; i < 9; i++) feed.tick();
    expect(feed.history().map((s) => s.t)).toEqual([7, 8, 9]);
    sub.unsubscribe();
  });

  it("starts from a fresh baseline after a pause, so totals moved meanwhile are no false spike", () => {
    const { feed } = scripted([
      reading(0, [replica("a", 0)]),
      reading(1_000, [replica("a", 10)]),
      reading(60_000, [replica("a", 100_000)]),
      reading(61_000, [replica("a", 100_010)]),
    ]);
    const first = feed.subscribe(() => {});
    feed.tick();
    first.unsubscribe();
    const again = feed.subscribe(() => {});
    feed.tick();
    expect(feed.history().map((s) => s.calls["a"])).toEqual([10, 10]);
    again.unsubscribe();
  });

  it("sends what the page's wire types describe", () => {
    expectTypeOf<DashboardSample>().toExtend<WireSample>();
    expectTypeOf<DashboardEvent>().toExtend<WireEvent>();
    expectTypeOf<DashboardState>().toExtend<WireState>();
    expectTypeOf<{
      sample: DashboardSample;
      events: DashboardEvent[];
      state: DashboardState;
    }>().toExtend<WireTick>();
    expectTypeOf<{
      intervalMs: number;
      history: DashboardSample[];
      events: DashboardEvent[];
      state: DashboardState | undefined;
    }>().toExtend<WireHello>();
  });
});

describe("the hello frame's size", () => {
  it("stays under MAX_HELLO_CHARS however many busy replicas the history holds (oldest samples go)", () => {
    // audit round 9: 600 replicas made a 5 MB hello the page refused, for every operator
    const ids = Array.from({ length: 600 }, (_, i) => `replica_${String(i).padStart(20, "0")}`);
    const readings = Array.from({ length: 301 }, (_, t) =>
      reading(
        1_000_000 + t * 1000,
        ids.map((id) => replica(id, t * 7)),
      ),
    );
    const { feed } = scripted(readings, 300);
    const unsubscribeFirst = feed.subscribe(() => {}).unsubscribe;
    for (let t = 0; t < 300; t++) feed.tick();
    const hello = feed.subscribe(() => {}).hello;
    expect(hello.length).toBeLessThanOrEqual(MAX_HELLO_CHARS);
    const data = events(hello)[0]!.data as { history: DashboardSample[] };
    expect(data.history.length).toBeGreaterThan(0);
    expect(data.history.at(-1)?.t).toBe(feed.history().at(-1)?.t);
    unsubscribeFirst();
    feed.close();
  });
});
