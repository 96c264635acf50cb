import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { REPO } from "./fake-io.js";

/** scripts/build.mjs (make build): finds the workspace packages tsconfig.build.json may not list */
interface BuildScript {
  workspaceProjects(root: string): string[];
  listedProjects(root: string, file: string): Set<string>;
}
const script = (await import(pathToFileURL(join(REPO, "scripts", "build.mjs")).href)) as BuildScript;

const root = mkdtempSync(join(tmpdir(), "fame-build-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function pkg(dir: string, files: string[]): void {
  mkdirSync(join(root, dir), { recursive: true });
  for (const f of files) writeFileSync(join(root, dir, f), "{}");
}

describe("scripts/build.mjs", () => {
  it("builds every packages/* and services/* with a package.json and a tsconfig.json", () => {
    pkg("packages/sdk", ["package.json", "tsconfig.json"]);
    pkg("services/stats", ["package.json", "tsconfig.json"]);
    pkg("services/half", ["package.json"]);
    pkg("services/notes", ["tsconfig.json"]);
    writeFileSync(join(root, "services", "README.md"), "a file, not a package");
    expect(script.workspaceProjects(root)).toEqual([
      join(root, "packages/sdk"),
      join(root, "services/stats"),
    ]);
  });

  it("knows what tsconfig.build.json lists, so only the rest is added", () => {
    const file = join(root, "tsconfig.build.json");
    writeFileSync(file, JSON.stringify({ files: [], references: [{ path: "packages/sdk" }] }));
    const listed = script.listedProjects(root, file);
    expect([...listed]).toEqual([join(root, "packages/sdk")]);
    expect(script.workspaceProjects(root).filter((d) => !listed.has(d))).toEqual([
      join(root, "services/stats"),
    ]);
  });
});
