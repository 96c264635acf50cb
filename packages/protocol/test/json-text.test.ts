import { describe, expect, it } from "vitest";
import { jsonText, LONG_JSON_STRING, needsNoEscaping } from "../src/json-text.js";

const long = (fill = "a", n = LONG_JSON_STRING) => fill.repeat(Math.ceil(n / fill.length)).slice(0, n);

/** a small seeded generator, so a failure can be replayed */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const ODD_CHARS = [
  '"',
  "\\",
  "\n",
  "\u0000",
  "\u001f",
  "\ud83d\ude00",
  "\ud800",
  "\udfff",
  "é",
  "\u2028",
  " ",
  "/",
];

function randomString(r: () => number): string {
  const n = r() < 0.3 ? LONG_JSON_STRING + Math.floor(r() * 3000) : Math.floor(r() * 20);
  let s = long("xyz", n);
  if (r() < 0.5) {
    const odd = ODD_CHARS[Math.floor(r() * ODD_CHARS.length)]!;
    const at = Math.floor(r() * (s.length + 1));
    s = s.slice(0, at) + odd + s.slice(at);
  }
  return s;
}

function randomValue(r: () => number, depth: number): unknown {
  const k = depth > 4 ? Math.floor(r() * 4) : Math.floor(r() * 7);
  switch (k) {
    case 0:
      return randomString(r);
    case 1:
      return [0, -0, 1.5, -2e21, 1e-7, 42][Math.floor(r() * 6)];
    case 2:
      return r() < 0.5;
    case 3:
      return null;
    case 4:
      return Array.from({ length: Math.floor(r() * 5) }, () => randomValue(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = 0; i < Math.floor(r() * 5); i++)
        o[r() < 0.2 ? randomString(r) : `k${i}`] = randomValue(r, depth + 1);
      return o;
    }
  }
}

describe("jsonText", () => {
  it("writes what JSON.stringify writes, for random JSON values with long and odd strings", () => {
    for (let seed = 1; seed <= 400; seed++) {
      const value = randomValue(rng(seed), 0);
      expect(jsonText(value), `seed ${seed}`).toBe(JSON.stringify(value));
    }
  });

  it("escapes a long string exactly as JSON.stringify does when it must", () => {
    for (const odd of ODD_CHARS) {
      for (const s of [odd + long(), long() + odd, long() + odd + long()]) {
        expect(jsonText({ data: s })).toBe(JSON.stringify({ data: s }));
      }
    }
  });

  it("leaves to JSON.stringify what it would transform: toJSON, class instances, undefined, non-finite", () => {
    class Point {
      constructor(readonly x: string) {}
    }
    const big = long();
    const cases: unknown[] = [
      { when: new Date(0), big },
      { p: new Point(big) },
      { a: undefined, big },
      [undefined, big],
      { n: Number.NaN, big },
      { n: Number.POSITIVE_INFINITY, big },
      { toJSON: () => "replaced", big },
      Object.assign(Object.create(null) as object, { big }),
      JSON.parse(`{"__proto__":{"x":1},"big":"${big}"}`),
      // biome-ignore lint/suspicious/noSparseArray: a hole, which JSON.stringify writes as null
      [, big],
      new Map([["a", big]]),
      new String(big),
      { f: () => 1, big },
    ];
    for (const value of cases) expect(jsonText(value)).toBe(JSON.stringify(value));
  });

  it("copes with depth beyond its walk and with short values (JSON.stringify's own text)", () => {
    let deep: unknown = long();
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(jsonText(deep)).toBe(JSON.stringify(deep));
    expect(jsonText({ jsonrpc: "2.0", id: "a", result: 5 })).toBe('{"jsonrpc":"2.0","id":"a","result":5}');
    expect(jsonText(undefined)).toBe(JSON.stringify(undefined));
  });

  it("needsNoEscaping: only quotes, backslashes, control characters and lone surrogates need it", () => {
    expect(needsNoEscaping(long())).toBe(true);
    expect(needsNoEscaping(`${long()}\ud83d\ude00é\u2028/`)).toBe(true);
    for (const c of ['"', "\\", "\u0000", "\n", "\u001f", "\ud800", "\udfff"]) {
      expect(needsNoEscaping(long() + c), JSON.stringify(c)).toBe(false);
    }
  });
});
