/** Turning results and tables into text: stdout is for data, so no decoration leaks into it. */
import { escapeControls } from "@fame/logger";

/**
 * Text for a terminal with every control character a remote agent or node could use to move the
 * cursor, recolour or rewrite what the user sees (ESC sequences, CR, bidi overrides) shown as a
 * `\uXXXX` escape; tabs and newlines stay (results and tables span lines).
 */
export function printable(text: string): string {
  return escapeControls(text, true);
}

/** A call's result as plain text: scalars bare (`7`, `hello`), anything else as pretty JSON. */
export function formatResult(value: unknown): string {
  if (value === undefined || value === null) return "null";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value, null, 2);
}

/** One JSON document on one line (NDJSON item, `--json` scalar). */
export function jsonLine(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value);
}

/**
 * `printable`, and on one line: newlines, carriage returns and tabs escaped too. For text a node
 * chose shown inside a table row or a one-line summary, where a newline would draw a row of the
 * node's making (a forged "healthy" replica under the real ones).
 */
export function oneLine(text: string): string {
  return printable(text).replace(/[\n\r\t]/g, (c) => (c === "\n" ? "\\n" : c === "\r" ? "\\r" : "\\t"));
}

/** Left-aligned columns, two spaces apart; the last column is not padded. Cells are one line each. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows].map((r) => r.map(oneLine));
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  return all
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

const SHELL_SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** A value for `export NAME=value` in sh/bash/zsh: bare when safe, else single-quoted. */
export function shellQuote(value: string): string {
  if (value !== "" && SHELL_SAFE.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

type Schema = { [key: string]: unknown };
const isObject = (v: unknown): v is Schema => typeof v === "object" && v !== null && !Array.isArray(v);

/** The type of one JSON Schema node in a few characters: `number`, `string[]`, `"a"|"b"`, `object`. */
export function schemaType(schema: unknown): string {
  if (!isObject(schema)) return "any";
  if (Array.isArray(schema["enum"])) return schema["enum"].map((v) => JSON.stringify(v)).join("|");
  if ("const" in schema) return JSON.stringify(schema["const"]);
  const alternatives = schema["anyOf"] ?? schema["oneOf"];
  if (Array.isArray(alternatives)) return alternatives.map(schemaType).join("|");
  const type = schema["type"];
  if (Array.isArray(type)) return type.join("|");
  if (type === "array") return `${schemaType(schema["items"])}[]`;
  return typeof type === "string" ? type : "any";
}

/**
 * A parameter schema in one line, for `fame ops`: `{ x: number, y: number, note?: string }`.
 * Absent schema: `-`; a schema that is not an object with properties: its type.
 */
export function summarizeParams(schema: unknown): string {
  if (schema === undefined) return "-";
  if (!isObject(schema)) return "any";
  const props = schema["properties"];
  if (!isObject(props)) return schemaType(schema);
  const required = new Set(Array.isArray(schema["required"]) ? schema["required"] : []);
  const fields = Object.entries(props).map(
    ([name, sub]) => `${name}${required.has(name) ? "" : "?"}: ${schemaType(sub)}`,
  );
  return fields.length === 0 ? "{}" : `{ ${fields.join(", ")} }`;
}
