#!/usr/bin/env node
// `make pack`: tarballs of every package a user installs (@fame/sdk, @fame/cli and the
// workspace packages they depend on) into packs/, for `npm install packs/*.tgz` outside
// this repository.
//   node scripts/pack.mjs [--out DIR]     (build first: make pack does)
// Each package is staged with its manifest's workspace: ranges replaced by the versions
// they name, then packed by `npm pack` (fixed mtimes and order: the same build gives
// byte-identical tarballs). The `files` lists in the manifests keep source maps (they
// point at sources that are not shipped) and build info out; the tarballs are checked
// to hold nothing else than built code, the manifest, README/LICENSE and the CLI's templates.
import { execFileSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** what a user installs; everything they depend on inside the workspace comes along */
const USER_PACKAGES = ["@fame/sdk", "@fame/cli"];
const DEP_FIELDS = ["dependencies", "peerDependencies", "optionalDependencies"];
/** paths (inside the tarball's package/) that may be shipped */
const ALLOWED = [/^package\.json$/, /^(README|LICENSE)(\.md)?$/, /^dist\/.+\.(js|d\.ts)$/, /^templates\/.+/];
/** never shipped, wherever they are: keys, secrets, certificates, run state, tests, build info */
const FORBIDDEN = [
  /\.(pem|key|p12|crt)$/,
  /(^|\/)\.env$/,
  /(^|\/)secrets?\//,
  /(^|\/)run\//,
  /\.map$/,
  /\.tsbuildinfo$/,
  /^dist\/(.*\/)?[^/]+\.test\.(js|d\.ts)$/,
  /^dist\/(.*\/)?(test|tests|__tests__)\//,
];

export class PackError extends Error {}

function parseArgs(argv) {
  let out = join(ROOT, "packs");
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--out" && argv[i + 1]) out = resolve(argv[++i]);
    else throw new PackError(`usage: node scripts/pack.mjs [--out DIR] (unknown argument ${argv[i]})`);
  }
  return { out };
}

/** name → { dir, manifest } for every package under packages/ and services/ */
export function workspacePackages() {
  const found = new Map();
  for (const group of ["packages", "services"]) {
    for (const entry of readdirSync(join(ROOT, group))) {
      const file = join(ROOT, group, entry, "package.json");
      if (!existsSync(file)) continue;
      const manifest = JSON.parse(readFileSync(file, "utf8"));
      found.set(manifest.name, { dir: join(ROOT, group, entry), manifest });
    }
  }
  return found;
}

/** the user packages and their workspace dependencies, dependencies first, names sorted */
export function packageClosure(workspace) {
  const order = [];
  const seen = new Set();
  const visit = (name, from) => {
    if (seen.has(name)) return;
    const pkg = workspace.get(name);
    if (!pkg) throw new PackError(`${from} depends on ${name}, which is not in the workspace`);
    seen.add(name);
    for (const field of DEP_FIELDS) {
      for (const [dep, range] of Object.entries(pkg.manifest[field] ?? {}).sort(([a], [b]) =>
        a.localeCompare(b),
      )) {
        if (String(range).startsWith("workspace:")) visit(dep, name);
      }
    }
    order.push(name);
  };
  for (const name of USER_PACKAGES) visit(name, "scripts/pack.mjs");
  return order;
}

/** `workspace:*` → 1.2.3, `workspace:^` → ^1.2.3, `workspace:<range>` → <range> */
export function concreteRange(range, version) {
  const spec = range.slice("workspace:".length);
  if (spec === "*" || spec === "") return version;
  if (spec === "^" || spec === "~") return `${spec}${version}`;
  return spec;
}

/** the manifest as shipped: workspace ranges resolved; no scripts or devDependencies */
export function shippedManifest(manifest, workspace) {
  const { scripts: _scripts, devDependencies: _dev, ...rest } = manifest;
  for (const field of DEP_FIELDS) {
    if (!rest[field]) continue;
    rest[field] = Object.fromEntries(
      Object.entries(rest[field]).map(([dep, range]) =>
        String(range).startsWith("workspace:")
          ? [dep, concreteRange(range, workspace.get(dep).manifest.version)]
          : [dep, range],
      ),
    );
  }
  return rest;
}

function* walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else yield path;
  }
}

/** Built output must exist: an entry point missing means no build. */
function checkBuilt({ dir, manifest }) {
  const targets = [
    ...Object.values(manifest.exports ?? {}).flatMap((t) => (typeof t === "string" ? [t] : Object.values(t))),
    ...Object.values(manifest.bin ?? {}),
  ];
  const missing = targets.filter((t) => !existsSync(join(dir, t)));
  if (missing.length > 0 || !existsSync(join(dir, "dist"))) {
    throw new PackError(
      `${manifest.name} is not built (${missing.join(", ") || "no dist/"}): run make build first`,
    );
  }
}

/**
 * Output in dist/ whose src/ file is gone: left over from a module since removed or
 * renamed (tsc -b does not delete it). Nothing built from the current sources imports it.
 */
export function staleOutput(dir) {
  const stale = new Set();
  for (const file of walk(join(dir, "dist"))) {
    const base = relative(join(dir, "dist"), file).match(/^(.*)\.(js|d\.ts)(\.map)?$/)?.[1];
    if (base !== undefined && !existsSync(join(dir, "src", `${base}.ts`))) stale.add(file);
  }
  return stale;
}

/** a copy of what `files` names (plus README/LICENSE) and the shipped manifest */
function stage(pkg, workspace, into) {
  const { dir, manifest } = pkg;
  mkdirSync(into, { recursive: true });
  const listed = (manifest.files ?? []).filter((f) => !f.startsWith("!"));
  const extras = readdirSync(dir).filter((f) => /^(README|LICENSE)(\.md)?$/i.test(f));
  const stale = staleOutput(dir);
  for (const f of [...listed, ...extras]) {
    if (existsSync(join(dir, f)))
      cpSync(join(dir, f), join(into, f), { recursive: true, filter: (path) => !stale.has(path) });
  }
  if (stale.size > 0) {
    process.stdout.write(
      `${manifest.name}: left out ${stale.size} file(s) of dist/ whose source is gone (delete ${relative(ROOT, dir)}/dist and make build to clean up)\n`,
    );
  }
  const shipped = shippedManifest(manifest, workspace);
  writeFileSync(join(into, "package.json"), `${JSON.stringify(shipped, null, 2)}\n`);
  return shipped;
}

export function checkContents(result) {
  const bad = result.files
    .map((f) => f.path)
    .filter((p) => FORBIDDEN.some((re) => re.test(p)) || !ALLOWED.some((re) => re.test(p)));
  if (bad.length > 0) throw new PackError(`${result.name}: the tarball would ship ${bad.join(", ")}`);
}

const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;

function main() {
  const { out } = parseArgs(process.argv.slice(2));
  const workspace = workspacePackages();
  const names = packageClosure(workspace);
  for (const name of names) checkBuilt(workspace.get(name));

  const staging = mkdtempSync(join(tmpdir(), "fame-pack-"));
  try {
    const dirs = names.map((name, i) => {
      const into = join(staging, String(i));
      const shipped = stage(workspace.get(name), workspace, into);
      if (JSON.stringify(shipped).includes('"workspace:'))
        throw new PackError(`${name}: a workspace: range is left`);
      return into;
    });
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    const json = execFileSync(
      "npm",
      ["pack", ...dirs, "--pack-destination", out, "--ignore-scripts", "--json", "--loglevel=error"],
      { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, stdio: ["ignore", "pipe", "inherit"] },
    );
    const results = JSON.parse(json);
    for (const r of results) checkContents(r);
    const width = Math.max(...results.map((r) => r.filename.length));
    let total = 0;
    const shown = relative(process.cwd(), out);
    process.stdout.write(`packed into ${shown.startsWith("..") || shown === "" ? out : shown}/:\n`);
    for (const r of results) {
      total += r.size;
      process.stdout.write(
        `  ${r.filename.padEnd(width)}  ${kib(r.size).padStart(10)}  ${String(r.entryCount).padStart(4)} files  ${r.name}@${r.version}\n`,
      );
    }
    process.stdout.write(`  ${"total".padEnd(width)}  ${kib(total).padStart(10)}\n`);
    process.stdout.write(`install elsewhere: npm install ${join(out, "*.tgz")}\n`);
  } catch (err) {
    rmSync(out, { recursive: true, force: true });
    throw err;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

// run as a script; imported (by its unit test), only the functions above
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (err) {
    process.stderr.write(`pack: ${err instanceof PackError ? err.message : err.stack}\n`);
    process.exit(1);
  }
}
