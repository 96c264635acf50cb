/**
 * Which environment a command connects with. The FAME_* environment always wins; inside a
 * checkout (or with --root) the dev fabric's settings fill in what it leaves unset, so
 * `pnpm fame call …` works in the repo after `make start` with nothing exported.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type Checkout, openCheckout } from "./checkout.js";
import { devFabricEnv } from "./dev-env.js";
import { usageError } from "./exit-codes.js";
import type { CliIo } from "./io.js";

/** Any of these set means the user configured a node themselves. */
const CONFIGURED_BY = [
  "FAME_CONFIG",
  "FAME_ADMISSION_CLIENT_ID",
  "FAME_SENTINEL_URL",
  "FAME_SECURITY_PROFILE",
  "FAME_ADMISSION_PROFILE",
] as const;

export const NOT_CONFIGURED =
  "no fabric configured: export the FAME_* settings of a node, e.g. " +
  'eval "$(fame env --root <checkout>)" for a checkout\'s dev fabric (make start), ' +
  "or run inside the checkout";

export interface GlobalOptions {
  root?: string;
}

/** The checkout the command works against: --root, else the one around the working directory. */
export function checkoutFor(io: CliIo, global: GlobalOptions): Promise<Checkout | undefined> {
  return openCheckout(global.root, io.cwd);
}

export async function nodeEnv(io: CliIo, global: GlobalOptions): Promise<NodeJS.ProcessEnv> {
  const configured =
    CONFIGURED_BY.some((name) => io.env[name]) || existsSync(join(process.cwd(), "fame-config.yml"));
  if (configured && global.root === undefined) return io.env;
  const checkout = await checkoutFor(io, global);
  if (checkout === undefined) {
    if (configured) return io.env;
    throw usageError(NOT_CONFIGURED);
  }
  return { ...Object.fromEntries(devFabricEnv(checkout, {}, io.env)), ...io.env };
}
