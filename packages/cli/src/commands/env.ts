/** `fame env`: the variables a node needs to join a checkout's running dev fabric. */
import type { Command } from "commander";
import { devFabricEnv } from "../dev-env.js";
import { usageError } from "../exit-codes.js";
import { shellQuote } from "../format.js";
import type { CliIo } from "../io.js";
import { checkoutFor, type GlobalOptions } from "../node-env.js";

/** set for one role only: printing the other role's environment clears them */
const ROLE_VARIABLES = ["FAME_REQUESTED_LOGICALS"] as const;

interface EnvFlags {
  agent?: boolean;
  admin?: boolean;
  json?: boolean;
}

export function registerEnvCommand(program: Command, io: CliIo, global: () => GlobalOptions): void {
  program
    .command("env")
    .description("print the environment a node needs to join the dev fabric of a checkout (make start)")
    .option("--agent", "the agent credential (may serve *.fame.fabric) instead of the call-only client one")
    .option(
      "--admin",
      "add FAME_SENTINEL_ADMIN_TOKEN_FILE (for status, pins, drain; the path, not the token)",
    )
    .option("--json", "print a JSON object instead of export lines")
    .addHelpText(
      "after",
      "\nAbsolute paths, so it works from any directory:\n" +
        '  eval "$(fame env --root ~/fame)"    then: fame call math@fame.fabric add \'{"x":3,"y":4}\'',
    )
    .action(async (flags: EnvFlags) => {
      const checkout = await checkoutFor(io, global());
      if (checkout === undefined) {
        throw usageError(
          "not inside a FAME checkout: pass --root <checkout> (the clone where make start runs)",
        );
      }
      // stderr, so `eval "$(fame env)"` is unaffected
      if (checkout.topology.readState?.().settings === undefined) {
        io.err(
          `fame: note: the dev fabric of ${checkout.root} is not running (make start there); ` +
            "these are the settings it will start with\n",
        );
      }
      const vars = devFabricEnv(
        checkout,
        { agent: flags.agent === true, admin: flags.admin === true },
        io.env,
      );
      if (flags.json) {
        io.out(`${JSON.stringify(Object.fromEntries(vars), null, 2)}\n`);
        return;
      }
      // `fame env --agent` earlier in the same shell left the agent's logicals behind; a client
      // that requests them is refused admission by the access policy.
      const unset = ROLE_VARIABLES.filter((name) => !vars.some(([k]) => k === name));
      io.out(
        vars.map(([k, v]) => `export ${k}=${shellQuote(v)}\n`).join("") +
          (unset.length > 0 ? `unset ${unset.join(" ")}\n` : ""),
      );
    });
}
