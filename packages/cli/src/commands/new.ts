/** `fame new agent <name>`: scaffold a runnable agent package with a test. */
import { readFileSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import type { Command } from "commander";
import { usageError } from "../exit-codes.js";
import type { CliIo } from "../io.js";
import { checkoutFor, type GlobalOptions } from "../node-env.js";
import {
  checkAgentSpec,
  planStandaloneAgent,
  planWorkspaceAgent,
  standaloneDependencies,
  writePlan,
} from "../scaffold.js";

interface NewFlags {
  standalone?: string | boolean;
  address?: string;
  packs?: string;
  registry?: boolean;
  json?: boolean;
}

function cliVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version?: string;
  };
  return manifest.version ?? "0.0.0";
}

async function runNewAgent(io: CliIo, global: GlobalOptions, name: string, flags: NewFlags): Promise<void> {
  const spec = { name, ...(flags.address === undefined ? {} : { address: flags.address }) };
  // a bad name is the first thing to fix, before where the project goes
  checkAgentSpec(spec);
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(io.cwd, p));
  let dir: string;
  let files: string[];
  let next: [command: string, comment: string][];
  if (flags.standalone !== undefined && flags.standalone !== false) {
    dir = abs(typeof flags.standalone === "string" ? flags.standalone : name);
    const checkout =
      flags.packs === undefined ? await checkoutFor(io, global).catch(() => undefined) : undefined;
    const packs =
      flags.packs !== undefined ? abs(flags.packs) : checkout ? join(checkout.root, "packs") : undefined;
    const deps = standaloneDependencies(packs, cliVersion(), dir);
    // No tarballs: the packages would come from whatever registry npm asks, and no public
    // registry holds @fame/* (whoever claims the scope there would be installed). Only when asked.
    if (!Object.values(deps).some((d) => d.startsWith("file:")) && flags.registry !== true) {
      throw usageError(
        `no tarballs${packs ? ` in ${packs}` : ""}: run make pack in the checkout and pass --packs <checkout>/packs ` +
          `(or --registry to take @fame/sdk and @fame/cli ${cliVersion()} from the npm registry you configured)`,
      );
    }
    const plan = planStandaloneAgent(dir, spec, deps);
    files = writePlan(plan);
    const where = relative(io.cwd, dir) || ".";
    next = [
      [`cd ${where}`, ""],
      ["npm install", ""],
      ["npm run build && npm test", ""],
      [
        `eval "$(npx fame env --agent --root ${checkoutOf(checkout?.root, flags.packs === undefined ? undefined : abs(flags.packs))})"`,
        "the dev fabric's agent credential",
      ],
      ["npm start", `serves ${spec.address ?? `${name}@fame.fabric`}`],
    ];
  } else {
    const checkout = await checkoutFor(io, global);
    if (checkout === undefined) {
      throw usageError(
        "not inside a FAME checkout: run this in the clone (or pass --root <checkout>), or use --standalone [dir] for a project of its own",
      );
    }
    const plan = planWorkspaceAgent(checkout.root, spec);
    dir = plan.dir;
    files = writePlan(plan);
    next = [
      ["make build", "installs the new workspace package and builds it"],
      [`pnpm exec vitest run services/${name}`, "its tests (make test runs them too)"],
      ['eval "$(pnpm -s fame env --agent)"', "after make start: the agent credential"],
      [`node services/${name}/dist/bin.js`, `serves ${spec.address ?? `${name}@fame.fabric`}`],
    ];
  }
  if (flags.json) {
    io.out(`${JSON.stringify({ dir, files }, null, 2)}\n`);
    return;
  }
  io.out(`created ${dir}\n${files.map((f) => `  ${f}\n`).join("")}\nnext:\n${steps(next)}`);
}

/** the checkout for the hint: found, or the one whose packs/ was given; else a placeholder */
function checkoutOf(root: string | undefined, packs: string | undefined): string {
  if (root !== undefined) return root;
  if (packs !== undefined && basename(packs) === "packs") return dirname(packs);
  return "<checkout>";
}

function steps(lines: [command: string, comment: string][]): string {
  const width = Math.max(...lines.map(([c]) => c.length));
  return lines.map(([c, note]) => (note ? `  ${c.padEnd(width)}   # ${note}\n` : `  ${c}\n`)).join("");
}

export function registerNewCommand(program: Command, io: CliIo, global: () => GlobalOptions): void {
  const create = program.command("new").description("create something from a template");
  create
    .command("agent")
    .description("a runnable agent package with a vitest test (in this workspace: services/<name>)")
    .argument(
      "<name>",
      "lowercase letters, digits, hyphens; the package is @fame/<name>, the address <name>@fame.fabric",
    )
    .option("--standalone [dir]", "a project of its own outside the workspace (default dir: ./<name>)")
    .option("--address <address>", "the address it serves (default <name>@fame.fabric)")
    .option(
      "--packs <dir>",
      "standalone: depend on the tarballs of make pack in <dir> (default <checkout>/packs)",
    )
    .option(
      "--registry",
      "standalone without tarballs: take @fame/* from the npm registry you configured (a private one)",
    )
    .option("--json", "print what was created as JSON")
    .action((name: string, flags: NewFlags) => runNewAgent(io, global(), name, flags));
}
