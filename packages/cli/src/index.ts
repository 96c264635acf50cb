export { type Checkout, findCheckoutRoot, openCheckout } from "./checkout.js";
export { type DevEnvOptions, devFabricEnv, type EnvList } from "./dev-env.js";
export { explain } from "./errors.js";
export { CliError, EXIT, type ExitCode } from "./exit-codes.js";
export { formatResult, shellQuote, summarizeParams, table } from "./format.js";
export { type CliIo, processIo } from "./io.js";
export { createProgram, runCli } from "./program.js";
export { checkAgentName, classNameOf } from "./scaffold.js";
