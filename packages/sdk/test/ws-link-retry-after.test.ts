import { describe, expect, it } from "vitest";
import { busyRetryAfterSec } from "../src/connection/ws-link.js";

describe("busyRetryAfterSec", () => {
  it("takes the seconds of a 429 or 503, capped at 300, and nothing else", () => {
    expect(busyRetryAfterSec(429, "1")).toBe(1);
    expect(busyRetryAfterSec(503, " 30 ")).toBe(30);
    expect(busyRetryAfterSec(429, "86400")).toBe(300);
    // not a busy answer, or no usable delay: no hint (the start fails as before)
    expect(busyRetryAfterSec(401, "1")).toBeUndefined();
    expect(busyRetryAfterSec(429, undefined)).toBeUndefined();
    expect(busyRetryAfterSec(429, "Fri, 31 Dec 1999 23:59:59 GMT")).toBeUndefined();
    expect(busyRetryAfterSec(503, "-1")).toBeUndefined();
    expect(busyRetryAfterSec(undefined, "1")).toBeUndefined();
  });
});
