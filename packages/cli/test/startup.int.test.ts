/**
 * The CLI starts without the fabric code: `fame --help`, the sentinel commands and `fame env`
 * load neither the SDK's entry (admission, certificates, channels) nor @fame/identity; only
 * the commands that connect do, when they connect. Runs the built dist/ with a module
 * resolution hook that names what was loaded.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const CLI = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
/** prints every resolved module of the fabric's heavy packages to stderr */
const HOOK =
  "data:text/javascript,export async function resolve(s,c,n){const r=await n(s,c);" +
  'if(/\\/(sdk|identity|crypto)\\/dist\\/index\\.js$/.test(r.url))console.error("LOADED "+r.url);return r}';

function heavyModulesLoadedBy(args: string[]): string[] {
  const r = spawnSync(process.execPath, ["--no-warnings", "--experimental-loader", HOOK, CLI, ...args], {
    encoding: "utf8",
    timeout: 30_000,
    env: { PATH: process.env["PATH"] ?? "" },
  });
  expect(r.status).toBe(0);
  return r.stderr.split("\n").filter((l) => l.startsWith("LOADED "));
}

describe("fame start-up", () => {
  it.each([
    [["--help"]],
    [["call", "--help"]],
    [["status", "--help"]],
    [["new", "--help"]],
    [["traces", "--help"]],
  ])("fame %j loads no fabric code", (args) => {
    expect(heavyModulesLoadedBy(args)).toEqual([]);
  });

  it("the hook does see the SDK when it is loaded (the check above can fail)", () => {
    const r = spawnSync(
      process.execPath,
      [
        "--no-warnings",
        "--experimental-loader",
        HOOK,
        "--input-type=module",
        "-e",
        `await import(${JSON.stringify(new URL("../../sdk/dist/index.js", import.meta.url).href)})`,
      ],
      { encoding: "utf8", timeout: 30_000 },
    );
    expect(r.stderr).toMatch(/LOADED .*\/sdk\/dist\/index\.js/);
  });
});
