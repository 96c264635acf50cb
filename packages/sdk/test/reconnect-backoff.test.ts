import { afterEach, describe, expect, it, vi } from "vitest";
import { ConnectionError } from "../src/connection/connection-error.js";
import {
  busyWaitMs,
  nothingListening,
  QUICK_RETRY_MAX_MS,
  ReconnectBackoff,
} from "../src/connection/reconnect-backoff.js";

/** the delay the next wait() asks setTimeout for */
function nextDelay(b: ReconnectBackoff): number {
  const spy = vi.spyOn(globalThis, "setTimeout");
  void b.wait();
  const delay = spy.mock.calls.at(-1)?.[1] as number;
  spy.mockRestore();
  b.cancel();
  return delay;
}

afterEach(() => vi.restoreAllMocks());

describe("ReconnectBackoff", () => {
  it("spreads even the first wait after a death over half its span, then doubles up to the maximum", () => {
    const first = Array.from({ length: 200 }, () => nextDelay(new ReconnectBackoff()));
    expect(Math.min(...first)).toBeGreaterThanOrEqual(100);
    expect(Math.max(...first)).toBeLessThanOrEqual(200);
    // 200 nodes do not dial in the same millisecond
    expect(new Set(first.map(Math.floor)).size).toBeGreaterThan(50);
    const b = new ReconnectBackoff({ initialDelayMs: 100, maxDelayMs: 1000 });
    const delays = Array.from({ length: 8 }, () => nextDelay(b));
    expect(delays[3]).toBeGreaterThanOrEqual(400);
    expect(delays[3]).toBeLessThanOrEqual(800);
    for (const d of delays.slice(5)) expect(d).toBeLessThanOrEqual(1000);
  });

  it("keeps trying without end unless told how many attempts to make", () => {
    const endless = new ReconnectBackoff();
    for (let i = 0; i < 2000; i++) nextDelay(endless);
    expect(endless.exhausted).toBe(false);
    const bounded = new ReconnectBackoff({ maxAttempts: 3 });
    for (let i = 0; i < 2; i++) nextDelay(bounded);
    expect(bounded.exhausted).toBe(false);
    nextDelay(bounded);
    expect(bounded.exhausted).toBe(true);
  });

  it("a service's retry_after holds the next wait off at least that long, jittered, once", () => {
    const b = new ReconnectBackoff({ initialDelayMs: 100 });
    b.holdOff(3000);
    const held = nextDelay(b);
    expect(held).toBeGreaterThanOrEqual(3000);
    expect(held).toBeLessThanOrEqual(4500);
    expect(nextDelay(b)).toBeLessThanOrEqual(200);
  });

  it("after a refused connection (nothing listening) the next wait stays under QUICK_RETRY_MAX_MS, once", () => {
    const b = new ReconnectBackoff({ initialDelayMs: 200, maxDelayMs: 5000 });
    for (let i = 0; i < 6; i++) nextDelay(b);
    // deep into the doubling: 5 s × 0.5-1
    expect(nextDelay(b)).toBeGreaterThanOrEqual(2500);
    b.quickRetry();
    const quick = nextDelay(b);
    expect(quick).toBeGreaterThanOrEqual(QUICK_RETRY_MAX_MS / 2);
    expect(quick).toBeLessThanOrEqual(QUICK_RETRY_MAX_MS);
    // a saturated service's hint still wins over it
    b.quickRetry();
    b.holdOff(3000);
    expect(nextDelay(b)).toBeGreaterThanOrEqual(3000);
    expect(nextDelay(b)).toBeGreaterThanOrEqual(2500);
  });

  it("nothingListening: a dial refused at TCP, and nothing else", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:8000"), { code: "ECONNREFUSED" });
    const busy = new Error("Unexpected server response: 503");
    expect(nothingListening(new ConnectionError("connect_failed", "x", { cause: refused }))).toBe(true);
    expect(nothingListening(new ConnectionError("connect_failed", "x", { cause: busy }))).toBe(false);
    expect(nothingListening(new ConnectionError("attach_refused", "x", { cause: refused }))).toBe(false);
    expect(nothingListening(refused)).toBe(false);
  });
});

describe("busyWaitMs", () => {
  it("is the quiet a busy answer asked for, in ms, and nothing for any other failure", () => {
    expect(busyWaitMs(new ConnectionError("connect_failed", "429", { retryAfterSec: 2 }))).toBe(2000);
    expect(busyWaitMs(Object.assign(new Error("hello: saturated"), { retryAfterSec: 0 }))).toBe(0);
    expect(busyWaitMs(new ConnectionError("connect_failed", "ECONNREFUSED"))).toBeUndefined();
    expect(busyWaitMs(Object.assign(new Error("odd"), { retryAfterSec: "2" }))).toBeUndefined();
    expect(busyWaitMs(undefined)).toBeUndefined();
  });
});
