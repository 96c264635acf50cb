import { describe, expect, it } from "vitest";
import {
  DEFAULT_STICKINESS_CONFIG,
  parseStickinessConfig,
  StickinessConfigError,
} from "../src/stickiness/index.js";

function refusal(raw: unknown): StickinessConfigError {
  try {
    parseStickinessConfig(raw);
  } catch (e) {
    if (e instanceof StickinessConfigError) return e;
    throw e;
  }
  throw new Error("expected a refusal");
}

describe("parseStickinessConfig", () => {
  it("gives the defaults for a missing block", () => {
    expect(parseStickinessConfig(undefined)).toEqual(DEFAULT_STICKINESS_CONFIG);
    expect(parseStickinessConfig(null)).toEqual(DEFAULT_STICKINESS_CONFIG);
    expect(parseStickinessConfig({})).toMatchObject({
      securityLevel: "strict",
      defaultTtlSec: 300,
      maxEntries: 100_000,
      clockSkewSec: 30,
      maxAftLifetimeSec: 86_400,
    });
  });

  it("accepts snake_case keys and the type field", () => {
    expect(
      parseStickinessConfig({
        type: "AFTLoadBalancerStickinessManager",
        security_level: "signed-optional",
        default_ttl_sec: 60,
        max_entries: 500,
        idle_ttl_sec: 20,
        clock_skew_sec: 0,
        max_aft_lifetime_sec: 3600,
      }),
    ).toEqual({
      securityLevel: "signed-optional",
      defaultTtlSec: 60,
      maxEntries: 500,
      idleTtlSec: 20,
      clockSkewSec: 0,
      maxAftLifetimeSec: 3600,
    });
  });

  it("accepts camelCase keys and decimal strings", () => {
    expect(
      parseStickinessConfig({
        securityLevel: "sid-only",
        defaultTtlSec: "90",
        maxEntries: 7,
        idleTtlSec: 5,
        clockSkewSec: 10,
      }),
    ).toMatchObject({
      securityLevel: "sid-only",
      defaultTtlSec: 90,
      maxEntries: 7,
      idleTtlSec: 5,
      clockSkewSec: 10,
    });
    expect(parseStickinessConfig({ security_level: "strict", securityLevel: "strict" }).securityLevel).toBe(
      "strict",
    );
  });

  it("refuses bad values, naming the key", () => {
    const cases: [unknown, string][] = [
      [{ type: "OtherManager" }, "type"],
      [{ security_level: "loose" }, "security_level"],
      [{ securityLevel: 3 }, "securityLevel"],
      [{ default_ttl_sec: 0 }, "default_ttl_sec"],
      [{ defaultTtlSec: -5 }, "defaultTtlSec"],
      [{ max_entries: 1.5 }, "max_entries"],
      [{ maxEntries: "lots" }, "maxEntries"],
      [{ max_entries: 1e9 }, "max_entries"],
      [{ idle_ttl_sec: true }, "idle_ttl_sec"],
      [{ clock_skew_sec: -1 }, "clock_skew_sec"],
      [{ security_level: "strict", securityLevel: "sid-only" }, "security_level"],
      [{ max_entrys: 5 }, "max_entrys"],
      ["strict", "(root)"],
      [[1, 2], "(root)"],
    ];
    for (const [raw, key] of cases) {
      const e = refusal(raw);
      expect(e.key, JSON.stringify(raw)).toBe(key);
      expect(e.message).toContain(key);
    }
  });
});
