/**
 * `fame new agent`: a runnable agent package from packages/cli/templates, inside a checkout's
 * workspace (services/<name>, built and tested by make with no edit) or as a standalone project.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { CliError, EXIT, usageError } from "./exit-codes.js";

/** packages/cli/templates, next to dist/ in the repo and in the installed package */
export const TEMPLATES_DIR = fileURLToPath(new URL("../templates", import.meta.url));

const NAME = /^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,31}$/;
/** names of the workspace's own packages, and ones that would confuse a package manager */
const RESERVED = new Set(["cli", "sdk", "node_modules", "favicon", "test", "tests", "fame"]);

/**
 * A name that is safe as a directory, an npm package name (`@fame/<name>`), a bin name and the
 * first part of a logical address (`<name>@fame.fabric`).
 */
export function checkAgentName(name: string): string {
  if (!NAME.test(name)) {
    throw usageError(
      `agent name "${name}": use 1-32 lowercase letters, digits and single hyphens, starting with a letter (e.g. stats, order-book)`,
    );
  }
  if (RESERVED.has(name)) throw usageError(`agent name "${name}" is reserved: choose another`);
  return name;
}

/** `order-book` → `OrderBookAgent` */
export function classNameOf(name: string): string {
  return `${name
    .split("-")
    .map((p) => p.charAt(0).toUpperCase() + p.slice(1))
    .join("")}Agent`;
}

export function render(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (whole, key: string) => {
    const v = values[key];
    if (v === undefined) throw new Error(`template placeholder ${whole} has no value`);
    return v;
  });
}

const LINE_WIDTH = 110;

/**
 * A long address makes `const X = "…";` longer than the repo's formatter allows (biome,
 * 110 columns); break it as biome would, so `make lint` passes on generated code unchanged.
 */
export function wrapLongConstants(code: string): string {
  return code.replace(
    /^( *)(const \w+ =) ("[^"\n]*";)$/gm,
    (line, indent: string, decl: string, value: string) =>
      line.length > LINE_WIDTH ? `${indent}${decl}\n${indent}  ${value}` : line,
  );
}

/** Template files under `dir`, as paths relative to it (recursive, sorted). */
function templateFiles(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? join(prefix, entry.name) : entry.name;
    if (entry.isDirectory()) out.push(...templateFiles(dir, rel));
    else if (entry.name.endsWith(".tmpl")) out.push(rel);
  }
  return out.sort();
}

/** Where a template lands: `x.ts.tmpl` → `x.ts`, `gitignore.tmpl` → `.gitignore` (npm pack drops dotfiles). */
const targetName = (rel: string): string => {
  const plain = rel.slice(0, -".tmpl".length);
  return basename(plain) === "gitignore" ? join(dirname(plain), ".gitignore") : plain;
};

export interface ScaffoldPlan {
  dir: string;
  files: { path: string; content: string }[];
}

export interface AgentSpec {
  name: string;
  /** the address it serves; default `<name>@fame.fabric` */
  address?: string;
}

function planFrom(
  variant: "workspace" | "standalone",
  dir: string,
  values: Record<string, string>,
): ScaffoldPlan {
  const files: ScaffoldPlan["files"] = [];
  for (const base of [join(TEMPLATES_DIR, "agent"), join(TEMPLATES_DIR, variant)]) {
    for (const rel of templateFiles(base)) {
      const target = targetName(rel);
      const content = render(readFileSync(join(base, rel), "utf8"), values);
      files.push({
        path: join(dir, target),
        content: target.endsWith(".ts") ? wrapLongConstants(content) : content,
      });
    }
  }
  return { dir, files };
}

/** The name and address checked (usage errors), with the class name they give. */
export function checkAgentSpec(spec: AgentSpec): Record<string, string> {
  const name = checkAgentName(spec.name);
  const address = spec.address ?? `${name}@fame.fabric`;
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}@[a-z0-9.-]{1,253}$/.test(address)) {
    throw usageError(`--address "${address}" is not an address like ${name}@fame.fabric`);
  }
  return { name, address, className: classNameOf(name) };
}

/** services/<name> in the checkout at `root`, as package `@fame/<name>`. */
export function planWorkspaceAgent(root: string, spec: AgentSpec): ScaffoldPlan {
  const v = checkAgentSpec(spec);
  for (const group of ["packages", "services"]) {
    if (existsSync(join(root, group, v["name"]!))) {
      throw new CliError(`${group}/${v["name"]} already exists in ${root}: choose another name`, EXIT.usage);
    }
  }
  return planFrom("workspace", join(root, "services", v["name"]!), v);
}

/**
 * The @fame packages a standalone project depends on: `file:` links to the tarballs of `make pack`
 * when there are some, else versions (for a registry that has them). The links are relative to
 * `projectDir` (npm reads them from the package.json's directory), so the project and the
 * checkout can move together, or be committed side by side.
 */
export function standaloneDependencies(
  packsDir: string | undefined,
  version: string,
  projectDir: string,
): Record<string, string> {
  const tarballs =
    packsDir && existsSync(packsDir) ? readdirSync(packsDir).filter((f) => f.endsWith(".tgz")) : [];
  // the template's params schemas are zod's (any Standard Schema validator would do)
  const deps: Record<string, string> = { zod: "^4.6.7" };
  for (const file of tarballs.sort()) {
    const m = /^fame-(.+?)-\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?\.tgz$/.exec(file);
    if (m) deps[`@fame/${m[1]}`] = `file:${relative(projectDir, join(packsDir!, file)).split(sep).join("/")}`;
  }
  if (!Object.keys(deps).some((name) => name.startsWith("@fame/"))) {
    deps["@fame/cli"] = version;
    deps["@fame/sdk"] = version;
  }
  return deps;
}

export function planStandaloneAgent(
  dir: string,
  spec: AgentSpec,
  deps: Record<string, string>,
): ScaffoldPlan {
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new CliError(`${dir} exists and is not empty: choose a new directory`, EXIT.usage);
  }
  const linked = Object.values(deps).some((d) => d.startsWith("file:"));
  const sorted = Object.fromEntries(Object.entries(deps).sort(([a], [b]) => a.localeCompare(b)));
  return planFrom("standalone", dir, {
    ...checkAgentSpec(spec),
    dependencies: JSON.stringify(sorted, null, 2).replace(/\n/g, "\n  "),
    installNote: linked ? "linked to the tarballs of make pack" : "from your registry",
  });
}

/** Writes every file of the plan; refuses to replace any file (checked before the first write). */
export function writePlan(plan: ScaffoldPlan): string[] {
  const taken = plan.files.filter((f) => existsSync(f.path));
  if (taken.length > 0) {
    throw new CliError(`refusing to overwrite ${taken.map((f) => f.path).join(", ")}`, EXIT.usage);
  }
  for (const f of plan.files) {
    mkdirSync(dirname(f.path), { recursive: true });
    writeFileSync(f.path, f.content, { flag: "wx" });
  }
  return plan.files.map((f) => relative(plan.dir, f.path));
}
