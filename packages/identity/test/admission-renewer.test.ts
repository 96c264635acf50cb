import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type Admission, CertificateRenewer } from "../src/admission/index.js";

const HOUR = 3600_000;

function admission(notBefore: number, lifetimeMs: number, systemId = "s1"): Admission {
  return {
    systemId,
    assignedPath: `/sentinel0/${systemId}`,
    sid: "x",
    acceptedLogicals: [],
    attachTicket: "t",
    transportUrl: "wss://x",
    transportUrls: ["wss://x"],
    certificatePem: "",
    chainPem: "",
    x5c: [],
    seed: new Uint8Array(32),
    publicKey: new Uint8Array(32),
    notBefore: new Date(notBefore),
    notAfter: new Date(notBefore + lifetimeMs),
    ticketExpiresAt: new Date(notBefore + 120_000),
  };
}

describe("CertificateRenewer", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_700_000_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("renews at half the lifetime (jitter pinned) and follows the new certificate", async () => {
    const t0 = Date.now();
    const renewed: Admission[] = [];
    let n = 0;
    const r = new CertificateRenewer({
      current: admission(t0, 2 * HOUR),
      renew: async () => admission(Date.now(), 2 * HOUR, `s${++n + 1}`),
      onRenewed: (a) => {
        renewed.push(a);
      },
      random: () => 0.5,
    });
    r.start();
    expect(r.nextAttemptAt).toBe(t0 + HOUR);
    await vi.advanceTimersByTimeAsync(HOUR - 1);
    expect(renewed).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(renewed.map((a) => a.systemId)).toEqual(["s2"]);
    expect(r.current.systemId).toBe("s2");
    expect(r.nextAttemptAt).toBe(t0 + 2 * HOUR);
    r.stop();
    expect(r.nextAttemptAt).toBeUndefined();
    await vi.advanceTimersByTimeAsync(10 * HOUR);
    expect(renewed).toHaveLength(1);
  });

  it("jitters within ±jitter/2 of the lifetime around the middle", () => {
    const t0 = Date.now();
    for (const [rand, expected] of [
      [0, t0 + 0.45 * 10 * HOUR],
      [1, t0 + 0.55 * 10 * HOUR],
    ] as const) {
      const r = new CertificateRenewer({
        current: admission(t0, 10 * HOUR),
        renew: async () => admission(t0, HOUR),
        onRenewed: () => undefined,
        random: () => rand,
      });
      r.start();
      expect(r.nextAttemptAt).toBeCloseTo(expected, -1);
      r.stop();
    }
  });

  it("retries with capped exponential backoff, reporting each failure", async () => {
    const t0 = Date.now();
    const errors: number[] = [];
    let calls = 0;
    const r = new CertificateRenewer({
      current: admission(t0 - HOUR, HOUR), // already past half: due now
      renew: async () => {
        calls++;
        if (calls < 5) throw new Error("CA down");
        return admission(Date.now(), HOUR);
      },
      onRenewed: () => undefined,
      onError: (_e, attempt) => errors.push(attempt),
      minBackoffMs: 1000,
      maxBackoffMs: 4000,
      random: () => 0.5,
    });
    r.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(errors).toEqual([1]);
    expect(r.nextAttemptAt).toBe(Date.now() + 1000);
    await vi.advanceTimersByTimeAsync(1000);
    expect(r.nextAttemptAt).toBe(Date.now() + 2000);
    await vi.advanceTimersByTimeAsync(2000);
    expect(r.nextAttemptAt).toBe(Date.now() + 4000);
    await vi.advanceTimersByTimeAsync(4000);
    expect(r.nextAttemptAt).toBe(Date.now() + 4000); // capped
    await vi.advanceTimersByTimeAsync(4000);
    expect(calls).toBe(5);
    expect(errors).toEqual([1, 2, 3, 4]);
    expect(r.nextAttemptAt).toBe(Date.now() + HOUR / 2);
    r.stop();
  });

  it("a renewal finishing after stop() is not delivered", async () => {
    let release: (a: Admission) => void = () => undefined;
    const delivered: Admission[] = [];
    const r = new CertificateRenewer({
      current: admission(Date.now() - HOUR, HOUR),
      renew: () =>
        new Promise<Admission>((res) => {
          release = res;
        }),
      onRenewed: (a) => {
        delivered.push(a);
      },
    });
    r.start();
    await vi.advanceTimersByTimeAsync(0);
    r.stop();
    release(admission(Date.now(), HOUR));
    await vi.advanceTimersByTimeAsync(0);
    expect(delivered).toHaveLength(0);
  });

  it("renewNow renews immediately and rethrows failures", async () => {
    let fail = true;
    const r = new CertificateRenewer({
      current: admission(Date.now(), 10 * HOUR),
      renew: async () => {
        if (fail) throw new Error("down");
        return admission(Date.now(), HOUR, "fresh");
      },
      onRenewed: () => undefined,
    });
    r.start();
    await expect(r.renewNow()).rejects.toThrow("down");
    fail = false;
    expect((await r.renewNow()).systemId).toBe("fresh");
    r.stop();
  });

  it("a renewal in flight when start() is called leaves a single schedule", async () => {
    const t0 = Date.now();
    let release: (a: Admission) => void = () => undefined;
    let calls = 0;
    const r = new CertificateRenewer({
      current: admission(t0, 2 * HOUR),
      renew: () =>
        new Promise<Admission>((res) => {
          calls++;
          release = res;
        }),
      onRenewed: () => undefined,
      random: () => 0.5,
    });
    const pending = r.renewNow();
    r.start(); // schedules the current certificate's renewal point, t0 + 1 h
    expect(r.nextAttemptAt).toBe(t0 + HOUR);
    release(admission(t0, 4 * HOUR, "fresh"));
    await pending;
    expect(r.nextAttemptAt).toBe(t0 + 2 * HOUR);
    await vi.advanceTimersByTimeAsync(HOUR + 1);
    expect(calls).toBe(1); // start()'s timer for the old certificate no longer fires
    r.stop();
  });

  it("needs a way to renew", () => {
    expect(() => new CertificateRenewer({ current: admission(0, 1), onRenewed: () => undefined })).toThrow(
      TypeError,
    );
  });
});
