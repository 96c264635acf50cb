import type { Logger } from "@fame/logger";
import { describe, expect, it } from "vitest";
import { waitUntilDrained } from "../src/lifecycle/drain.js";
import { type Drainable, drainAndClose } from "../src/lifecycle/signal-drain.js";

/** A virtual clock: sleeping advances time and runs whatever the scenario scheduled for then. */
function clock(start = 1_000_000) {
  let t = start;
  const events: { at: number; run: () => void }[] = [];
  return {
    now: () => t,
    at(offsetMs: number, run: () => void) {
      events.push({ at: start + offsetMs, run });
    },
    async sleep(ms: number) {
      t += ms;
      for (const e of events.filter((e) => e.at <= t)) {
        events.splice(events.indexOf(e), 1);
        e.run();
      }
    },
  };
}

describe("waitUntilDrained", () => {
  it("is idle at once when nothing runs and the last frame is older than the quiet period", async () => {
    const c = clock();
    const outcome = await waitUntilDrained(
      { activeCalls: () => 0, lastActivityAt: () => c.now() - 5000 },
      { quietMs: 1000, timeoutMs: 30_000, now: c.now, sleep: c.sleep },
    );
    expect(outcome).toBe("idle");
    expect(c.now()).toBe(1_000_000);
  });

  it("waits while calls run, then for the quiet period after the last frame", async () => {
    const c = clock();
    let active = 2;
    let last = c.now();
    c.at(2000, () => {
      active = 1;
      last = c.now();
    });
    c.at(3000, () => {
      active = 0;
      last = c.now();
    });
    const outcome = await waitUntilDrained(
      { activeCalls: () => active, lastActivityAt: () => last },
      { quietMs: 500, timeoutMs: 30_000, pollMs: 100, now: c.now, sleep: c.sleep },
    );
    expect(outcome).toBe("idle");
    // not before the last call ended plus the quiet period, and not much later
    expect(c.now() - 1_000_000).toBeGreaterThanOrEqual(3500);
    expect(c.now() - 1_000_000).toBeLessThanOrEqual(3600);
  });

  it("gives up at the drain timeout when a client never stops", async () => {
    const c = clock();
    const outcome = await waitUntilDrained(
      { activeCalls: () => 0, lastActivityAt: () => c.now() },
      { quietMs: 500, timeoutMs: 4000, pollMs: 300, now: c.now, sleep: c.sleep },
    );
    expect(outcome).toBe("timeout");
    expect(c.now() - 1_000_000).toBe(4000);
  });

  it("ends even with a clock that stands still", async () => {
    const outcome = await waitUntilDrained(
      { activeCalls: () => 1, lastActivityAt: () => 0 },
      { quietMs: 10, timeoutMs: 50, pollMs: 10, now: () => 5, sleep: async () => {} },
    );
    expect(outcome).toBe("timeout");
  });
});

describe("drainAndClose", () => {
  it("announces the drain, waits for quiet, logs both ends, then closes", async () => {
    const steps: string[] = [];
    const logged: { msg: string; fields: Record<string, unknown> }[] = [];
    const log = {
      info: (fields: Record<string, unknown>, msg: string) => logged.push({ msg, fields }),
    } as unknown as Logger;
    let active = 1;
    const node: Drainable = {
      log,
      drainSettings: { timeoutMs: 5000, quietMs: 0 },
      drain: () => {
        steps.push("drain");
        // the call in flight finishes a moment after the drain was announced
        setTimeout(() => {
          steps.push("call done");
          active = 0;
        }, 20);
      },
      activeCalls: () => active,
      lastActivityAt: () => 0,
      close: async () => {
        steps.push("close");
      },
    };
    expect(await drainAndClose(node, { signal: "SIGTERM" })).toBe("idle");
    expect(steps).toEqual(["drain", "call done", "close"]);
    expect(logged.map((l) => l.msg)).toEqual(["draining", "drained"]);
    expect(logged[0]?.fields).toEqual({ signal: "SIGTERM", drainTimeoutMs: 5000, drainQuietMs: 0 });
    expect(logged[1]?.fields).toEqual({ outcome: "idle", activeCalls: 0 });
  });
});
