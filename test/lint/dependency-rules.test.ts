import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

/**
 * The import rules `make lint` enforces (.dependency-cruiser.cjs, run by the
 * root package.json's `lint` script) catch what they are meant to catch, and
 * the real tree passes them.
 */
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DEPCRUISE = join(ROOT, "node_modules", "dependency-cruiser", "bin", "dependency-cruise.mjs");
const CONFIG_FILES = [".dependency-cruiser.cjs", ".dependency-cruiser.resolve.cjs"];

interface Violation {
  type: string;
  from: string;
  to: string;
  rule: { name: string; severity: string };
  cycle?: ({ name: string } | string)[];
}

interface CruiseRun {
  violations: Violation[];
  cruised: number;
}

function spawnDepcruise(cwd: string, args: string[]) {
  const run = spawnSync(process.execPath, [DEPCRUISE, "--config", ".dependency-cruiser.cjs", ...args], {
    cwd,
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  if (run.error) throw run.error;
  return run;
}

/** One run with the JSON reporter, for the violations in detail. */
function depcruise(cwd: string, args: string[]): CruiseRun {
  const run = spawnDepcruise(cwd, ["--output-type", "json", ...args]);
  if (!run.stdout.trim()) throw new Error(`depcruise printed nothing (exit ${run.status}): ${run.stderr}`);
  const { summary } = JSON.parse(run.stdout) as {
    summary: { violations: Violation[]; totalCruised: number };
  };
  return { violations: summary.violations, cruised: summary.totalCruised };
}

/** The file arguments of the `depcruise` step in the root `lint` script, `*` expanded as sh would. */
function lintScriptArgs(): string[] {
  const { scripts } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
    scripts: Record<string, string>;
  };
  const step = (scripts["lint"] ?? "")
    .split("&&")
    .map((s) => s.trim())
    .find((s) => s.startsWith("depcruise "));
  if (!step) throw new Error("the root lint script has no depcruise step");
  const words = step.split(/\s+/).slice(1);
  const files = words.filter((w, i) => !w.startsWith("-") && !words[i - 1]?.startsWith("--"));
  const expand = (prefix: string, segments: string[]): string[] => {
    const [head, ...rest] = segments;
    if (head === undefined) return existsSync(join(ROOT, prefix)) ? [prefix] : [];
    const names = head === "*" ? readdirSync(join(ROOT, prefix || ".")).sort() : [head];
    return names.flatMap((name) => expand(prefix ? `${prefix}/${name}` : name, rest));
  };
  return files.flatMap((f) => expand("", f.split("/")));
}

const cycleNames = (v: Violation) =>
  (v.cycle ?? []).map((step) => (typeof step === "string" ? step : step.name));

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A throwaway workspace: package.json files with `exports` maps and TypeScript sources. */
function workspace(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "fame-depcruise-"));
  dirs.push(dir);
  for (const name of CONFIG_FILES) copyFileSync(join(ROOT, name), join(dir, name));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

const manifest = (name: string) =>
  JSON.stringify({
    name,
    type: "module",
    exports: { ".": { types: "./dist/index.d.ts", default: "./dist/index.js" } },
  });

describe("import rules (dependency-cruiser)", { timeout: 60_000 }, () => {
  it("report a cycle inside a package, a cycle between packages and a layering violation", () => {
    const dir = workspace({
      "packages/crypto/package.json": manifest("@fame/crypto"),
      "packages/crypto/src/index.ts": "export const bytes = 32;\n",
      "packages/protocol/package.json": manifest("@fame/protocol"),
      "packages/protocol/src/index.ts":
        'export { a } from "./a.js";\nexport { fromSentinel } from "./c.js";\n',
      "packages/protocol/src/a.ts": 'import { b } from "./b.js";\nexport const a = (): number => b();\n',
      "packages/protocol/src/b.ts":
        'import { bytes } from "@fame/crypto";\nimport { a } from "./a.js";\nexport const b = (): number => bytes + a();\n',
      // protocol may import only crypto: importing the sentinel breaks the layering, and closes a cycle
      "packages/protocol/src/c.ts":
        'import { limit } from "@fame/sentinel";\nexport const fromSentinel = limit;\n',
      "packages/sentinel/package.json": manifest("@fame/sentinel"),
      "packages/sentinel/src/index.ts":
        'import { a } from "@fame/protocol";\nexport const limit = 8 + a();\n',
    });

    // as make lint runs it (default reporter): it fails, with one exit count per error
    expect(spawnDepcruise(dir, ["packages"]).status).toBe(3);

    const run = depcruise(dir, ["packages"]);
    const cycles = run.violations.filter((v) => v.rule.name === "no-circular").map(cycleNames);
    expect(cycles).toContainEqual(
      expect.arrayContaining(["packages/protocol/src/a.ts", "packages/protocol/src/b.ts"]),
    );
    expect(cycles).toContainEqual(
      expect.arrayContaining(["packages/protocol/src/c.ts", "packages/sentinel/src/index.ts"]),
    );
    const layering = run.violations
      .filter((v) => v.rule.name.startsWith("layering:"))
      .map((v) => `${v.rule.name} ${v.from} -> ${v.to}`);
    // the sentinel importing protocol is allowed; protocol importing crypto is too
    expect(layering).toEqual([
      "layering:packages/protocol packages/protocol/src/c.ts -> packages/sentinel/src/index.ts",
    ]);
    expect(run.violations.filter((v) => v.rule.name === "resolvable-imports")).toEqual([]);
  });

  it("pass a workspace that keeps the rules", () => {
    const dir = workspace({
      "packages/crypto/package.json": manifest("@fame/crypto"),
      "packages/crypto/src/index.ts": "export const bytes = 32;\n",
      "packages/protocol/package.json": manifest("@fame/protocol"),
      "packages/protocol/src/index.ts":
        'import { bytes } from "@fame/crypto";\nexport const frame = bytes;\n',
    });
    const run = spawnDepcruise(dir, ["packages"]);
    expect(run.stdout).toContain("no dependency violations found (2 modules");
    expect(run.status).toBe(0);
  });

  it("find no violation in the real tree", () => {
    const args = lintScriptArgs();
    expect(args).toEqual(expect.arrayContaining(["packages/sdk/src", "services/math-agent/src"]));
    const run = depcruise(ROOT, args);
    expect(run.cruised).toBeGreaterThan(100);
    expect(run.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`)).toEqual([]);
  });
});
