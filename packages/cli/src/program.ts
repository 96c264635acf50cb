/** The `fame` command line: commander wiring, global options, errors → stderr + exit code. */
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { registerEnvCommand } from "./commands/env.js";
import { registerNewCommand } from "./commands/new.js";
import { registerRpcCommands } from "./commands/rpc.js";
import { registerSentinelCommands } from "./commands/sentinel.js";
import { registerTracesCommand } from "./commands/traces.js";
import { explain } from "./errors.js";
import { EXIT, type ExitCode } from "./exit-codes.js";
import { printable } from "./format.js";
import type { CliIo } from "./io.js";
import type { GlobalOptions } from "./node-env.js";

const EXIT_HELP = `
Exit codes:
  0    ok
  1    the operation failed (RPC error, refused request, no such node)
  2    usage or configuration error (nothing was sent)
  3    unreachable or timed out (fabric, sentinel or identity services)
  130  cancelled with Ctrl-C

Environment: the FAME_* settings of a node (fame env prints them for a checkout's dev fabric);
inside a checkout, its dev fabric fills in whatever is unset. Logs go to stderr at warn
(FAME_LOG_LEVEL changes that). Docs: docs/cli.md`;

/** Everything the CLI prints goes through `printable`: results, errors and tables carry remote text. */
function terminalSafe(io: CliIo): CliIo {
  return { ...io, out: (text) => io.out(printable(text)), err: (text) => io.err(printable(text)) };
}

/** The installed package's version (package.json sits beside dist/, in the checkout and in a pack). */
function cliVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      version?: unknown;
    };
    return typeof pkg.version === "string" ? pkg.version : "unknown";
  } catch {
    return "unknown";
  }
}

export function createProgram(raw: CliIo): Command {
  const io = terminalSafe(raw);
  const program = new Command("fame");
  program
    .description("call, stream and list FAME agents; inspect the sentinel; scaffold agents")
    .version(cliVersion(), "-V, --version", "print fame's version")
    .option("--root <checkout>", "the FAME checkout whose dev fabric to use (default: the one around cwd)")
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .exitOverride()
    // a subcommand's help lists --root too: outside a checkout it is what a user needs
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError("(fame <command> --help for usage)")
    .addHelpText("after", EXIT_HELP);
  const global = (): GlobalOptions => program.opts<GlobalOptions>();
  registerRpcCommands(program, io, global);
  registerSentinelCommands(program, io, global);
  registerEnvCommand(program, io, global);
  registerNewCommand(program, io, global);
  registerTracesCommand(program, io);
  // every subcommand reports its usage errors through exitOverride too
  for (const cmd of program.commands) {
    cmd.exitOverride();
    for (const sub of cmd.commands) sub.exitOverride();
  }
  return program;
}

/** Runs the CLI on `argv` (without node and script); resolves to the exit code. */
export async function runCli(argv: readonly string[], raw: CliIo): Promise<ExitCode> {
  const io = terminalSafe(raw);
  const program = createProgram(raw);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version are successes; everything else commander refuses is a usage error
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const { message, exitCode } = explain(err);
    io.err(`fame: ${message}\n`);
    return exitCode;
  }
}
