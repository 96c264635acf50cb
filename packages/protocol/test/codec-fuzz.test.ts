import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeEnvelope, encodeEnvelope, ProtocolError, validateEnvelope } from "../src/index.js";
import { envelopeFor, SAMPLE_FRAMES } from "./fixtures.js";

type Path = (string | number)[];

/** Only ProtocolError may escape; anything accepted must survive a re-encode unchanged. */
function decodeOrProtocolError(input: string | Uint8Array): void {
  let env: ReturnType<typeof decodeEnvelope>;
  try {
    env = decodeEnvelope(input);
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    expect(["bad_envelope", "frame_too_large", "unknown_frame"]).toContain(err.code);
    return;
  }
  expect(decodeEnvelope(encodeEnvelope(env))).toEqual(env);
}

const validTexts = SAMPLE_FRAMES.map((f) => encodeEnvelope(envelopeFor(f)));

function pathsOf(value: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  out.push(prefix);
  if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value))
      pathsOf(v, [...prefix, Array.isArray(value) ? Number(k) : k], out);
  }
  return out;
}

function setAt(root: unknown, path: Path, value: unknown, remove: boolean): unknown {
  if (path.length === 0) return value;
  let node = root as Record<string | number, unknown>;
  for (const seg of path.slice(0, -1)) node = node[seg] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (remove) delete node[last];
  else node[last] = value;
  return root;
}

function isPlainObjectAt(root: unknown, path: Path): boolean {
  let node = root;
  for (const seg of path) node = (node as Record<string | number, unknown>)[seg];
  return typeof node === "object" && node !== null && !Array.isArray(node);
}

const interesting = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(
    "__proto__",
    "constructor",
    "",
    "a@b",
    "x@/a",
    "*.a.b",
    -1,
    0,
    1.5,
    Number.MAX_VALUE,
    "\ud800",
    "A".repeat(43),
  ),
  fc.string({ unit: "binary", maxLength: 40 }),
);

describe("fuzz: untrusted input only ever yields ProtocolError", () => {
  it("random text", () => {
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 200 }), decodeOrProtocolError), {
      numRuns: 400,
    });
  });

  it("random JSON documents", () => {
    fc.assert(
      fc.property(fc.json({ maxDepth: 6 }), (text) => decodeOrProtocolError(text)),
      { numRuns: 400 },
    );
  });

  it("random bytes", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), decodeOrProtocolError), { numRuns: 300 });
  });

  it("valid envelopes with characters replaced, inserted or deleted", () => {
    const edit = fc.record({
      which: fc.nat(validTexts.length - 1),
      at: fc.nat(),
      op: fc.constantFrom("replace", "insert", "delete"),
      ch: fc.constantFrom('"', "\\", "[", "]", "{", "}", ",", ":", "0", "-", "e", "x", " ", "\u0000", "é"),
    });
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), (edits) => {
        let text = validTexts[edits[0]!.which]!;
        for (const e of edits) {
          const i = e.at % (text.length + 1);
          if (e.op === "insert") text = text.slice(0, i) + e.ch + text.slice(i);
          else if (e.op === "delete") text = text.slice(0, i) + text.slice(i + 1);
          else text = text.slice(0, i) + e.ch + text.slice(i + 1);
        }
        decodeOrProtocolError(text);
      }),
      { numRuns: 800 },
    );
  });

  it("valid envelopes with a member replaced, removed or added", () => {
    fc.assert(
      fc.property(
        fc.nat(validTexts.length - 1),
        fc.nat(),
        interesting,
        fc.constantFrom("set", "remove", "add"),
        (which, pick, value, op) => {
          const root: unknown = JSON.parse(validTexts[which]!);
          const paths = pathsOf(root);
          const path = paths[pick % paths.length]!;
          const target = op === "add" && isPlainObjectAt(root, path) ? [...path, "extra"] : path;
          const mutated = setAt(root, target, value, op === "remove");
          decodeOrProtocolError(JSON.stringify(mutated) ?? "");
        },
      ),
      { numRuns: 800 },
    );
  });

  it("arbitrary in-process values", () => {
    fc.assert(
      fc.property(fc.anything({ maxDepth: 4, withBigInt: true, withMap: true, withDate: true }), (value) => {
        try {
          validateEnvelope(value);
        } catch (err) {
          if (!(err instanceof ProtocolError)) throw err;
        }
      }),
      { numRuns: 300 },
    );
  });
});
