import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  backoffCapMs,
  backoffDelayMs,
  DEFAULT_RETRY_POLICY,
  type FailureInfo,
  RetryPolicyError,
  resolveRetryPolicy,
  settlingNoRoute,
  shouldRetry,
} from "../src/rpc/retry-policy.js";

describe("retry policy", () => {
  it("has the documented defaults", () => {
    expect(resolveRetryPolicy()).toEqual({
      maxRetries: 3,
      initialDelayMs: 100,
      factor: 2,
      maxDelayMs: 2000,
      retryNoRoute: false,
    });
    expect(resolveRetryPolicy({ maxRetries: 5 })).toMatchObject({ maxRetries: 5, initialDelayMs: 100 });
  });

  it("names the bad field", () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ maxRetries: -1 }, "maxRetries"],
      [{ maxRetries: 1.5 }, "maxRetries"],
      [{ maxRetries: 1000 }, "maxRetries"],
      [{ initialDelayMs: -1 }, "initialDelayMs"],
      [{ initialDelayMs: Number.NaN }, "initialDelayMs"],
      [{ factor: 0.5 }, "factor"],
      [{ factor: Number.POSITIVE_INFINITY }, "factor"],
      [{ maxDelayMs: "10" }, "maxDelayMs"],
      [{ initialDelayMs: 500, maxDelayMs: 100 }, "maxDelayMs"],
      [{ retryNoRoute: "yes" }, "retryNoRoute"],
      [{ maxRetry: 3 }, "maxRetry"],
    ];
    for (const [overrides, field] of cases) {
      let caught: unknown;
      try {
        resolveRetryPolicy(overrides);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(RetryPolicyError);
      expect((caught as RetryPolicyError).field).toBe(field);
      expect((caught as RetryPolicyError).message).toContain(field);
    }
  });

  it("keeps full-jitter delays within [0, min(max, initial * factor^k)]", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 5000 }),
        fc.double({ min: 1, max: 10, noNaN: true }),
        fc.integer({ min: 0, max: 20_000 }),
        fc.integer({ min: 0, max: 40 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (initialDelayMs, factor, extra, attempt, r) => {
          const policy = resolveRetryPolicy({ initialDelayMs, factor, maxDelayMs: initialDelayMs + extra });
          const cap = Math.min(policy.maxDelayMs, initialDelayMs * factor ** attempt);
          expect(backoffCapMs(policy, attempt)).toBe(cap);
          const delay = backoffDelayMs(policy, attempt, () => r);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThanOrEqual(cap);
        },
      ),
      { numRuns: 300 },
    );
    // The cap grows exponentially, then saturates.
    expect([0, 1, 2, 3, 4, 5].map((k) => backoffCapMs(DEFAULT_RETRY_POLICY, k))).toEqual([
      100, 200, 400, 800, 1600, 2000,
    ]);
    // A misbehaving random source is clamped rather than trusted.
    expect(backoffDelayMs(DEFAULT_RETRY_POLICY, 0, () => 7)).toBe(100);
    expect(backoffDelayMs(DEFAULT_RETRY_POLICY, 0, () => Number.NaN)).toBe(0);
  });

  it("retries only failures that prove the request did not run, unless idempotent", () => {
    const p = DEFAULT_RETRY_POLICY;
    const t = (fameCode: string | undefined, notExecuted = false): FailureInfo => ({
      fameCode,
      transport: true,
      notExecuted,
    });
    expect(shouldRetry(t("channel_unknown"), false, p)).toBe(true);
    expect(shouldRetry(t("NOT_ACTIVE"), false, p)).toBe(true);
    // a cluster sentinel that cannot record new work refuses it before forwarding: safe to resend
    expect(shouldRetry(t("state_unavailable"), false, p)).toBe(true);
    expect(shouldRetry(t("replica_unavailable", true), false, p)).toBe(true);
    expect(shouldRetry(t("replica_unavailable", false), false, p)).toBe(false);
    expect(shouldRetry(t("replica_unavailable", false), true, p)).toBe(true);
    expect(shouldRetry(t("timeout"), false, p)).toBe(false);
    expect(shouldRetry(t("timeout"), true, p)).toBe(true);
    expect(shouldRetry(t("no_route", true), false, p)).toBe(false);
    expect(shouldRetry(t("no_route", true), true, p)).toBe(false);
    expect(shouldRetry(t("no_route", true), false, resolveRetryPolicy({ retryNoRoute: true }))).toBe(true);
    // just re-attached: a no_route (delivered nowhere) is waited out, even for a non-idempotent call
    const settling: FailureInfo = { ...t("no_route", true), settling: true };
    expect(shouldRetry(settling, false, p)).toBe(true);
    expect(settlingNoRoute(settling)).toBe(true);
    expect(settlingNoRoute({ ...settling, transport: false })).toBe(false);
    expect(settlingNoRoute({ ...t("not_authorized", true), settling: true })).toBe(false);
    expect(shouldRetry({ ...t("not_authorized", true), settling: true }, false, p)).toBe(false);
    expect(shouldRetry(t("not_authorized"), true, p)).toBe(false);
    expect(shouldRetry(t(undefined), true, p)).toBe(false);
    // A callee's reply saying the request ran into replica trouble is not proof of non-execution.
    expect(
      shouldRetry({ fameCode: "replica_unavailable", transport: false, notExecuted: false }, false, p),
    ).toBe(false);
    // Nor is a callee's error carrying a transport's code (its own downstream call failed, or
    // a hostile callee says so): a non-idempotent call ran once and is not sent again (audit
    // round 12: four charges for one call). Failing before it left this node still proves it.
    for (const code of ["channel_unknown", "channel_conflict", "NOT_ACTIVE", "state_unavailable"]) {
      const reply: FailureInfo = { fameCode: code, transport: false, notExecuted: false };
      expect(shouldRetry(reply, false, p), code).toBe(false);
      expect(shouldRetry({ ...reply, notExecuted: true }, false, p), code).toBe(true);
    }
  });
});
