import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import {
  formatResult,
  jsonLine,
  printable,
  schemaType,
  shellQuote,
  summarizeParams,
  table,
} from "../src/format.js";

describe("formatResult", () => {
  it("prints scalars bare and structures as pretty JSON", () => {
    expect(formatResult(7)).toBe("7");
    expect(formatResult("hello")).toBe("hello");
    expect(formatResult(true)).toBe("true");
    expect(formatResult(null)).toBe("null");
    expect(formatResult(undefined)).toBe("null");
    expect(formatResult({ a: [1, 2] })).toBe('{\n  "a": [\n    1,\n    2\n  ]\n}');
    expect(jsonLine("x")).toBe('"x"');
    expect(jsonLine(undefined)).toBe("null");
  });
});

describe("table", () => {
  it("aligns columns two spaces apart without trailing blanks", () => {
    expect(
      table(
        ["A", "LONG HEADER", "C"],
        [
          ["xx", "1", "last"],
          ["y", "22", ""],
        ],
      ),
    ).toBe("A   LONG HEADER  C\nxx  1            last\ny   22");
  });
});

describe("shellQuote", () => {
  it("leaves safe values bare and quotes the rest so a shell reads them back unchanged", () => {
    expect(shellQuote("https://127.0.0.1:8443/oauth/token")).toBe("https://127.0.0.1:8443/oauth/token");
    expect(shellQuote("*.fame.fabric")).toBe("'*.fame.fabric'");
    for (const value of ["*.fame.fabric", 'it\'s $HOME `x` "q"', "", "a b\nc", "a'b''c"]) {
      const echoed = execFileSync("sh", ["-c", `export V=${shellQuote(value)}; printf %s "$V"`], {
        encoding: "utf8",
      });
      expect(echoed).toBe(value);
    }
  });
});

describe("summarizeParams", () => {
  it("names fields with their types, optional ones with ?", () => {
    expect(
      summarizeParams({
        type: "object",
        properties: {
          x: { type: "number" },
          tags: { type: "array", items: { type: "string" } },
          mode: { enum: ["a", "b"] },
        },
        required: ["x"],
      }),
    ).toBe('{ x: number, tags?: string[], mode?: "a"|"b" }');
    expect(summarizeParams(undefined)).toBe("-");
    expect(summarizeParams({ type: "object", properties: {} })).toBe("{}");
    expect(summarizeParams({ type: "string" })).toBe("string");
    expect(summarizeParams(42)).toBe("any");
    expect(schemaType({ anyOf: [{ type: "string" }, { type: "null" }] })).toBe("string|null");
    expect(schemaType({ type: ["integer", "null"] })).toBe("integer|null");
  });
});

describe("printable", () => {
  it("escapes what could drive a terminal, keeps text, tabs and newlines, and keeps JSON valid", () => {
    expect(printable("plain text\twith tab\nand newline, ünïcode ✓")).toBe(
      "plain text\twith tab\nand newline, ünïcode ✓",
    );
    expect(printable("\u001b[2J\rgotcha")).toBe("\\u001b[2J\\u000dgotcha");
    expect(printable("a\u009b31mb\u202ec")).toBe("a\\u009b31mb\\u202ec");
    const value = { msg: "x\u009by\u2028z\u007f" };
    expect(JSON.parse(printable(JSON.stringify(value)))).toEqual(value);
  });
});
