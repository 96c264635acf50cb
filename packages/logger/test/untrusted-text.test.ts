import { LogThrottle, quotedName, untrustedText } from "@fame/logger";
import { describe, expect, it } from "vitest";

describe("text a peer chose, for logs and operators' screens", () => {
  it("escapes every control, separator and bidi character, and clips", () => {
    expect(untrustedText("ok\u001b]0;owned\u0007\n\u2028\u202e!")).toBe(
      "ok\\u001b]0;owned\\u0007\\u000a\\u2028\\u202e!",
    );
    expect(untrustedText("x".repeat(300), 200)).toBe(`${"x".repeat(200)}…`);
    expect(untrustedText("plain text, tabs\tand all")).toBe("plain text, tabs\\u0009and all");
  });

  it("quotes a name, its own quotes escaped", () => {
    expect(quotedName('gr"ant\u001b[2J')).toBe('"gr\\"ant\\u001b[2J"');
    expect(quotedName("k".repeat(100))).toBe(`"${"k".repeat(64)}…"`);
  });
});

describe("LogThrottle over a window", () => {
  it("logs the first few of each window, then one in `every`, and counts them all", () => {
    let t = 0;
    const throttle = new LogThrottle(2, 10, 1000, () => t);
    const logged = Array.from({ length: 25 }, () => throttle.hit()).filter(Boolean).length;
    expect(logged).toBe(4); // 1, 2, 10, 20
    t = 1000;
    expect(throttle.hit()).toBe(true); // a new window: logged again
    expect(throttle.total).toBe(26);
  });
});
