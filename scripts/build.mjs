#!/usr/bin/env node
// `make build` / `pnpm run build`: one `tsc -b` over tsconfig.build.json and every workspace
// package it does not list (packages/* or services/* with a package.json and a tsconfig.json),
// so a new package — `fame new agent stats` writes services/stats — is built with no edit.
// tsconfig.build.json stays the list editors and `tsc -b tsconfig.build.json` use; discovery
// instead of a generated list means a package added by hand, renamed or deleted needs nothing
// either. Extra arguments go to tsc (e.g. --clean, --verbose).
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const BUILD_CONFIG = join(ROOT, "tsconfig.build.json");

/** workspace package directories that have something for tsc to build */
export function workspaceProjects(root = ROOT) {
  const found = [];
  for (const group of ["packages", "services"]) {
    const base = join(root, group);
    if (!existsSync(base)) continue;
    for (const entry of readdirSync(base, { withFileTypes: true })) {
      const dir = join(base, entry.name);
      if (
        entry.isDirectory() &&
        existsSync(join(dir, "package.json")) &&
        existsSync(join(dir, "tsconfig.json"))
      )
        found.push(dir);
    }
  }
  return found.sort();
}

/** the project directories tsconfig.build.json already references */
export function listedProjects(root = ROOT, file = BUILD_CONFIG) {
  const { references = [] } = JSON.parse(readFileSync(file, "utf8"));
  return new Set(references.map((r) => resolve(root, r.path)));
}

function main(args) {
  const listed = listedProjects();
  const extra = workspaceProjects().filter((dir) => !listed.has(dir));
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const projects = [relative(ROOT, BUILD_CONFIG), ...extra.map((d) => relative(ROOT, d))];
  const child = spawn(process.execPath, [tsc, "-b", ...projects, ...args], { cwd: ROOT, stdio: "inherit" });
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  main(process.argv.slice(2));
