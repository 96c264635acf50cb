import { describe, expect, it } from "vitest";

/** what bench/lib/hop-trace.mjs exports (plain JS: typed here for the test) */
interface Trace {
  names: string[];
  rows: [number, number][];
}
interface Legs {
  trips: number;
  cycleP50Us: number;
  legs: { name: string; p50Us: number; afterSenderIdleP50Us?: number }[];
  totals: { wire: number; transport: number; work: Record<string, number> };
}
interface HopTrace {
  roundTripLegs(traces: Record<string, Trace>, path: string[]): Legs | null;
  stageOffsets(trace: Trace | undefined): { mark: string; atUs: number }[];
  writeCosts(
    trace: Trace | undefined,
  ): { writes: number; writeP50Us: number; afterWriteP50Us: number } | null;
}
const modulePath = new URL("../../bench/lib/hop-trace.mjs", import.meta.url).href;
const { roundTripLegs, stageOffsets, writeCosts } = (await import(modulePath)) as HopTrace;

const NAMES = ["", "send", "recv", "write", "data", "written", "idle"];
const [SEND, RECV, WRITE, DATA, WRITTEN, IDLE] = [1, 2, 3, 4, 5, 6];
const US = 1000; // traces hold nanoseconds

/**
 * Sequential round trips client → relay → echo → relay → client, every leg of a known length
 * (µs): the client's work 3, its out 2, wire 20, in 2, relay work 1, relay out 1, wire 25, …
 */
function relayTraces(trips: number): Record<string, Trace> {
  const t: Record<string, Trace> = {
    client: { names: NAMES, rows: [] },
    relay: { names: NAMES, rows: [] },
    echo: { names: NAMES, rows: [] },
  };
  let now = 1_000_000 * US;
  const at = (proc: string, kind: number, afterUs: number) => {
    now += afterUs * US;
    t[proc]!.rows.push([now, kind]);
  };
  for (let i = 0; i < trips; i++) {
    at("client", SEND, 3);
    at("client", WRITE, 2);
    at("relay", DATA, 20);
    at("relay", RECV, 2);
    at("relay", SEND, 1);
    at("relay", WRITE, 1);
    at("echo", DATA, 25);
    at("echo", RECV, 2);
    at("echo", SEND, 0.5);
    at("echo", WRITE, 1);
    at("relay", DATA, 25);
    at("relay", RECV, 2);
    at("relay", SEND, 1);
    at("relay", WRITE, 1);
    at("client", DATA, 20);
    at("client", RECV, 2);
  }
  return t;
}

describe("hop trace: a sequential round trip split into legs", () => {
  it("names every leg and finds each one's length", () => {
    const r = roundTripLegs(relayTraces(50), ["client", "relay", "echo", "relay", "client"]);
    expect(r).not.toBeNull();
    const legs = Object.fromEntries(r!.legs.map((l) => [l.name, Math.round(l.p50Us * 10) / 10]));
    expect(r!.legs.map((l) => l.name)).toEqual([
      "client out",
      "wire client → relay",
      "relay in",
      "relay work",
      "relay out",
      "wire relay → echo",
      "echo in",
      "echo work",
      "echo out",
      "wire echo → relay",
      "relay in",
      "relay work",
      "relay out",
      "wire relay → client",
      "client in",
      "client work",
    ]);
    expect(legs["wire relay → echo"]).toBe(25);
    expect(legs["echo work"]).toBe(0.5);
    expect(legs["client work"]).toBe(3);
    // the newest trips but the last five (the run was ending)
    expect(r!.trips).toBe(45);
    expect(r!.cycleP50Us).toBeCloseTo(108.5, 5);
    expect(r!.totals.wire).toBeCloseTo(90, 5);
    expect(r!.totals.work).toEqual({ relay: 2, echo: 0.5, client: 3 });
    expect(r!.totals.transport).toBeCloseTo(13, 5);
  });

  it("gives nothing for a missing process or a trace without a whole round trip", () => {
    const t = relayTraces(10);
    expect(
      roundTripLegs({ client: t.client!, relay: t.relay! }, ["client", "relay", "echo", "relay", "client"]),
    ).toBeNull();
    const cut = { ...t, echo: { names: NAMES, rows: [] as [number, number][] } };
    expect(roundTripLegs(cut, ["client", "relay", "echo", "relay", "client"])).toBeNull();
  });

  it("says when a wire leg's bytes arrived after the writer's turn ended, and what a write cost", () => {
    // client → server → client: each write returns after 10 µs, the turn ends 4 µs later, and
    // the peer's bytes arrive 15 µs after that (30 after the write began)
    const t: Record<string, Trace> = {
      client: { names: NAMES, rows: [] },
      server: { names: NAMES, rows: [] },
    };
    let now = 1_000_000 * US;
    const at = (proc: string, kind: number, afterUs: number) => {
      now += afterUs * US;
      t[proc]!.rows.push([now, kind]);
    };
    for (let i = 0; i < 20; i++) {
      at("client", SEND, 3);
      at("client", WRITE, 2);
      at("client", WRITTEN, 10);
      at("client", IDLE, 4);
      at("server", DATA, 16);
      at("server", RECV, 2);
      at("server", SEND, 1);
      at("server", WRITE, 1);
      at("server", WRITTEN, 12);
      at("server", IDLE, 6);
      at("client", DATA, 20);
      at("client", RECV, 2);
    }
    const r = roundTripLegs(t, ["client", "server", "client"]);
    const wire = Object.fromEntries(r!.legs.map((l) => [l.name, l.afterSenderIdleP50Us]));
    expect(wire["wire client → server"]).toBeCloseTo(16, 5);
    expect(wire["wire server → client"]).toBeCloseTo(20, 5);
    expect(wire["client work"]).toBeUndefined();
    expect(writeCosts(t.server)).toEqual({ writes: 20, writeP50Us: 12, afterWriteP50Us: 6 });
    // a trace from a hook without those events
    expect(writeCosts(relayTraces(5).client)).toBeNull();
  });

  it("reads stage marks as offsets from each message's arrival, in order", () => {
    const names = [...NAMES, "Decode.decode", "Route.route", "Rare.mark"];
    const rows: [number, number][] = [];
    let now = 0;
    for (let i = 0; i < 10; i++) {
      now += 100 * US;
      rows.push([now, DATA]);
      rows.push([now + 2 * US, RECV]);
      rows.push([now + 3 * US, 7]);
      rows.push([now + 9 * US, 8]);
      if (i === 0) rows.push([now + 9.5 * US, 9]); // seen once: left out
      rows.push([now + 11 * US, SEND]);
      rows.push([now + 12 * US, WRITE]);
    }
    now += 100 * US;
    rows.push([now, DATA]); // never left: not counted
    rows.push([now + 3 * US, 7]);
    expect(stageOffsets({ names, rows })).toEqual([
      { mark: "Decode.decode", atUs: 3 },
      { mark: "Route.route", atUs: 9 },
      { mark: "(socket write)", atUs: 12 },
    ]);
    // a trace without stage marks has none to show
    expect(stageOffsets({ names: NAMES, rows })).toEqual([]);
  });
});
