import { describe, expect, it } from "vitest";
import {
  addressAllowedBy,
  addressHasName,
  isAddress,
  isValidLogical,
  isWildcardLogical,
  logicalMatches,
  ProtocolError,
  parseAddress,
  parseLogical,
  tryParseAddress,
} from "../src/index.js";

describe("parseAddress", () => {
  it("remembers addresses that parsed, and shares the result read-only", () => {
    const first = tryParseAddress("cache1@fame.fabric");
    expect(first).toEqual({ name: "cache1", logical: "fame.fabric" });
    // a fresh string with the same text (as JSON.parse makes them) finds the same result
    expect(tryParseAddress(["cache1", "fame.fabric"].join("@"))).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    // refusals are not remembered, and many distinct addresses do not grow it without bound
    for (let i = 0; i < 5000; i++)
      expect(tryParseAddress(`n${i}@/s/x${i}`)).toEqual({ name: `n${i}`, path: `/s/x${i}` });
    expect(tryParseAddress("bad address")).toBeUndefined();
    expect(tryParseAddress("bad address")).toBeUndefined();
    expect(tryParseAddress("cache1@fame.fabric")).toEqual(first);
  });

  it("parses logical addresses", () => {
    expect(parseAddress("math@fame.fabric")).toEqual({ name: "math", logical: "fame.fabric" });
    expect(parseAddress("_x.y-z@localhost")).toEqual({ name: "_x.y-z", logical: "localhost" });
    expect(parseAddress("a@a-1.b2.c")).toEqual({ name: "a", logical: "a-1.b2.c" });
  });

  it("parses physical addresses", () => {
    expect(parseAddress("worker@/sentinel1/node_7")).toEqual({ name: "worker", path: "/sentinel1/node_7" });
    expect(parseAddress(`w@${"/s".repeat(8)}`)).toEqual({ name: "w", path: "/s/s/s/s/s/s/s/s" });
  });

  const bad = [
    "",
    "math",
    "@fame.fabric",
    "math@",
    "ma th@fame.fabric",
    "-math@fame.fabric",
    ".math@fame.fabric",
    `${"n".repeat(65)}@fame.fabric`,
    "math@Fame.fabric",
    "math@fame..fabric",
    "math@fame.fabric.",
    "math@.fame.fabric",
    "math@-fame.fabric",
    "math@fame-.fabric",
    `math@${"a".repeat(64)}.b`,
    `math@${Array(128).fill("ab").join(".")}`,
    "math@*.fame.fabric",
    "math@fame_x.fabric",
    "a@b@c",
    "math@/",
    "math@//a",
    "math@/a/",
    "math@/a-b",
    `math@${"/s".repeat(9)}`,
    `math@/${"s".repeat(65)}`,
  ];
  for (const s of bad) {
    it(`refuses ${JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s)}`, () => {
      expect(tryParseAddress(s)).toBeUndefined();
      expect(isAddress(s)).toBe(false);
      try {
        parseAddress(s, "frame.address");
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(ProtocolError);
        expect((err as ProtocolError).code).toBe("bad_envelope");
        expect((err as ProtocolError).field).toBe("frame.address");
      }
    });
  }

  it("accepts a 63-char label and a 253-char logical, refuses 254", () => {
    expect(isValidLogical(`${"a".repeat(63)}.b`)).toBe(true);
    const l253 = `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}`;
    expect(l253.length).toBe(253);
    expect(isValidLogical(l253)).toBe(true);
    expect(isValidLogical(`${l253}e`)).toBe(false);
  });

  it("is not fooled by non-strings", () => {
    expect(tryParseAddress(42)).toBeUndefined();
    expect(() => parseAddress(null)).toThrow(ProtocolError);
  });
});

describe("addressHasName", () => {
  it("is true only when the name part is exactly the name", () => {
    expect(addressHasName("math@fame.fabric", "math")).toBe(true);
    expect(addressHasName("math@/sentinel0/n1", "math")).toBe(true);
    expect(addressHasName("mathx@fame.fabric", "math")).toBe(false);
    expect(addressHasName("math@fame.fabric", "mat")).toBe(false);
    expect(addressHasName("math@fame.fabric", "")).toBe(false);
    expect(addressHasName("math", "math")).toBe(false);
  });
});

describe("logicals and wildcards", () => {
  it("recognises wildcard logicals", () => {
    expect(isWildcardLogical("*.fame.fabric")).toBe(true);
    expect(isWildcardLogical("*.fabric")).toBe(true);
    for (const s of ["*", "*.", "**.fabric", "a.*.fabric", "*.*.fabric", "fame.fabric", "*fame.fabric"]) {
      expect(isWildcardLogical(s)).toBe(false);
    }
  });

  it("parseLogical splits patterns", () => {
    expect(parseLogical("fame.fabric")).toEqual({ wildcard: false, base: "fame.fabric" });
    expect(parseLogical("*.fame.fabric")).toEqual({ wildcard: true, base: "fame.fabric" });
    expect(() => parseLogical("*")).toThrow(ProtocolError);
    expect(() => parseLogical("UP.case")).toThrow(ProtocolError);
  });

  it("logicalMatches", () => {
    const cases: [string, string, boolean][] = [
      ["fame.fabric", "fame.fabric", true],
      ["fame.fabric", "x.fame.fabric", false],
      ["*.fame.fabric", "fame.fabric", true],
      ["*.fame.fabric", "math.fame.fabric", true],
      ["*.fame.fabric", "a.b.fame.fabric", true],
      ["*.fame.fabric", "evilfame.fabric", false],
      ["*.fame.fabric", "fame.fabric.evil", false],
      ["*.fame.fabric", "fabric", false],
      ["*.fame.fabric", "*.fame.fabric", false],
      ["*", "fame.fabric", false],
      ["Fame.fabric", "Fame.fabric", false],
      ["*.fame.fabric", "x..fame.fabric", false],
    ];
    for (const [pattern, logical, expected] of cases) {
      expect(logicalMatches(pattern, logical), `${pattern} vs ${logical}`).toBe(expected);
    }
  });

  it("addressAllowedBy", () => {
    const accepted = ["*.svc.fame.fabric", "fame.fabric"];
    expect(addressAllowedBy("math@fame.fabric", accepted)).toBe(true);
    expect(addressAllowedBy("math@svc.fame.fabric", accepted)).toBe(true);
    expect(addressAllowedBy("math@a.svc.fame.fabric", accepted)).toBe(true);
    expect(addressAllowedBy("math@other.fame.fabric", accepted)).toBe(false);
    expect(addressAllowedBy("math@/fame/fabric", accepted)).toBe(false);
    expect(addressAllowedBy("not an address", accepted)).toBe(false);
    expect(addressAllowedBy({ name: "m", logical: "x.svc.fame.fabric" }, accepted)).toBe(true);
    expect(addressAllowedBy("math@fame.fabric", [])).toBe(false);
  });
});
