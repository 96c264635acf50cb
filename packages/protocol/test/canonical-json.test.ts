import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CanonicalJsonError, canonicalJson, canonicalJsonBytes } from "../src/index.js";

describe("canonicalJson", () => {
  it("sorts keys and drops whitespace", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, 2, 1], c: null } })).toBe('{"a":{"c":null,"d":[3,2,1]},"b":1}');
  });

  it("orders keys by UTF-16 code units, not code points", () => {
    // U+1F600 is encoded as D83D DE00, which sorts before U+FB33 although its code point is larger.
    const value = { "\ufb33": 1, "\u{1f600}": 2, "€": 3, "\u0080": 4, a: 5, A: 6, "1": 7, "": 8 };
    expect(canonicalJson(value)).toBe('{"":8,"1":7,"A":6,"a":5,"\u0080":4,"€":3,"\u{1f600}":2,"\ufb33":1}');
  });

  it("serializes numbers in ECMAScript form", () => {
    const cases: [number, string][] = [
      [0, "0"],
      [-0, "0"],
      [1, "1"],
      [-1.5, "-1.5"],
      [0.1, "0.1"],
      [1e21, "1e+21"],
      [1e20, "100000000000000000000"],
      [1e-7, "1e-7"],
      [0.000001, "0.000001"],
      [5e-324, "5e-324"],
      [1.7976931348623157e308, "1.7976931348623157e+308"],
      [Number.MAX_SAFE_INTEGER + 2, "9007199254740992"],
      [333333333.3333333, "333333333.3333333"],
    ];
    for (const [n, s] of cases) expect(canonicalJson(n)).toBe(s);
  });

  it("escapes strings like JSON.stringify", () => {
    expect(canonicalJson('"\\/\b\f\n\r\t')).toBe('"\\"\\\\/\\b\\f\\n\\r\\t"');
    expect(canonicalJson("\u0000\u001f\u007f")).toBe('"\\u0000\\u001f\u007f"');
    expect(canonicalJson("\u2028é😀")).toBe('"\u2028é😀"');
  });

  it("omits undefined members", () => {
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
    expect(canonicalJson({})).toBe("{}");
    expect(canonicalJson([])).toBe("[]");
  });

  it("accepts null-prototype objects", () => {
    const o = Object.create(null) as Record<string, unknown>;
    o.z = true;
    o.y = false;
    expect(canonicalJson(o)).toBe('{"y":false,"z":true}');
  });

  it("refuses what has no canonical form", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.me = cyclic;
    const bad: [unknown, string][] = [
      [Number.NaN, ""],
      [{ a: [1, Number.POSITIVE_INFINITY] }, '["a"][1]'],
      [{ s: "\ud800" }, '["s"]'],
      [{ "\udc00": 1 }, '["\\udc00"]'],
      [[undefined], "[0]"],
      [undefined, ""],
      [10n, ""],
      [() => 1, ""],
      [new Date(0), ""],
      [new Map(), ""],
      [cyclic, '["me"]'],
    ];
    for (const [value, path] of bad) {
      try {
        canonicalJson(value);
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(CanonicalJsonError);
        expect((err as CanonicalJsonError).path).toBe(path);
      }
    }
  });

  it("allows repeated (non-cyclic) references", () => {
    const shared = { x: 1 };
    expect(canonicalJson([shared, shared])).toBe('[{"x":1},{"x":1}]');
  });

  it("bytes are the UTF-8 of the text", () => {
    expect([...canonicalJsonBytes({ é: 1 })]).toEqual([...new TextEncoder().encode('{"é":1}')]);
  });

  it("is stable under key order and a parse round trip (property)", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
        const text = canonicalJson(value);
        expect(canonicalJson(JSON.parse(text))).toBe(text);
        const reversed = JSON.parse(JSON.stringify(value), (_k, v: unknown) =>
          typeof v === "object" && v !== null && !Array.isArray(v)
            ? Object.fromEntries(Object.entries(v).reverse())
            : v,
        );
        expect(canonicalJson(reversed)).toBe(text);
      }),
      { numRuns: 300 },
    );
  });
});
