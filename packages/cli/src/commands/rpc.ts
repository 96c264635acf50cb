/** `fame call`, `fame stream` and `fame ops`: operations of an agent, called from a shell. */
import type { AgentDescription, Fabric, OperationDescription, RpcEndpoint, RpcStream } from "@fame/sdk";
import { DESCRIBE_METHOD, isRpcError, RpcErrorCode } from "@fame/sdk/codes";
import type { Command } from "commander";
import { parseDuration, withClient } from "../client.js";
import { CliError, EXIT, usageError } from "../exit-codes.js";
import { formatResult, jsonLine, summarizeParams, table } from "../format.js";
import type { CliIo } from "../io.js";
import type { GlobalOptions } from "../node-env.js";

type Params = Record<string, unknown>;

/**
 * The params argument: a JSON object (operations take their parameters by name, as the SDK's
 * agents do; an array would only come back as invalid_params); `{}` when absent.
 */
export function parseParams(text: string | undefined): Params {
  if (text === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw usageError(
      `params must be JSON, e.g. '{"x":3,"y":4}' (quote it for the shell): ${(err as Error).message}`,
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw usageError(
      `params must be a JSON object of named parameters, e.g. '{"x":3,"y":4}' (see \`fame ops <address>\`), got ${JSON.stringify(value)}`,
    );
  }
  return value as Params;
}

/**
 * The params argument as JSON text: itself, or read from standard input ("-") or a file
 * ("@path"), for params too large for a command line.
 */
export async function paramsText(io: CliIo, arg: string | undefined): Promise<string | undefined> {
  if (arg === undefined || (arg !== "-" && !arg.startsWith("@"))) return arg;
  const source = arg === "-" ? "-" : arg.slice(1);
  if (source === "") throw usageError("@ needs a file: @params.json");
  try {
    return await io.readInput(source);
  } catch (err) {
    throw usageError(`params from ${source === "-" ? "standard input" : source}: ${(err as Error).message}`);
  }
}

interface CallFlags {
  json?: boolean;
  timeout?: string;
}

/**
 * Runs one call; a streamed answer is printed item by item as it arrives. Ctrl-C aborts the call
 * or cancels the stream at the agent, then exits 130.
 */
async function runCall(
  io: CliIo,
  global: GlobalOptions,
  address: string,
  method: string,
  params: Params,
  flags: CallFlags,
): Promise<void> {
  const timeoutMs = flags.timeout === undefined ? undefined : parseDuration(flags.timeout);
  const abort = new AbortController();
  let stream: RpcStream | undefined;
  let interrupted = false;
  let onInterrupted: (() => void) | undefined;
  const interruptedWhileConnecting = new Promise<never>((_, reject) => {
    onInterrupted = () => reject(new CliError("cancelled", EXIT.interrupted));
  });
  const stopListening = io.onInterrupt(() => {
    interrupted = true;
    abort.abort();
    if (stream !== undefined) void stream.return();
    onInterrupted?.();
  });
  interruptedWhileConnecting.catch(() => undefined);
  try {
    const work = withClient(io, global, async (fabric: Fabric) => {
      const result = await fabric.endpoint.client.call(address, method, params, {
        signal: abort.signal,
        ...(timeoutMs === undefined ? {} : { timeoutMs }),
      });
      const { isRpcStream } = await import("@fame/sdk");
      if (!isRpcStream(result)) {
        io.out(`${flags.json ? JSON.stringify(result ?? null, null, 2) : formatResult(result)}\n`);
        return;
      }
      stream = result;
      if (interrupted) await stream.return();
      for await (const item of stream) {
        io.out(`${flags.json || typeof item === "object" ? jsonLine(item) : formatResult(item)}\n`);
      }
    });
    await Promise.race([work, interruptedWhileConnecting]);
  } catch (err) {
    if (interrupted) throw new CliError("cancelled", EXIT.interrupted);
    throw err;
  } finally {
    stopListening();
  }
  if (interrupted) throw new CliError("cancelled", EXIT.interrupted);
}

export function renderOperations(ops: readonly OperationDescription[]): string {
  if (ops.length === 0) return "(no operations)";
  const rows = [...ops]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((o) => [
      o.name,
      o.streaming ? "yes" : "no",
      o.idempotent ? "yes" : "no",
      summarizeParams(o.params),
      o.description ?? "",
    ]);
  return table(["OPERATION", "STREAMING", "IDEMPOTENT", "PARAMS", "DESCRIPTION"], rows);
}

/**
 * What the agent at `address` serves, through the SDK's `describeAgent`; an agent from before
 * `rpc.describe` and a malformed answer are explained rather than passed on raw.
 */
export async function describeAt(
  endpoint: RpcEndpoint,
  address: string,
  timeoutMs: number | undefined,
): Promise<AgentDescription> {
  const { describeAgent } = await import("@fame/sdk");
  try {
    return await describeAgent(address, { endpoint, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
  } catch (err) {
    if (isRpcError(err) && err.code === RpcErrorCode.METHOD_NOT_FOUND) {
      throw new CliError(
        `${address} does not answer ${DESCRIBE_METHOD}: it runs an SDK from before agents described ` +
          "their operations, so they cannot be listed (update its @fame/sdk)",
        EXIT.failure,
      );
    }
    // describeAgent checks the answer (it comes from another node) and throws TypeError on a bad one
    if (err instanceof TypeError) {
      throw new CliError(
        `${address} answered ${DESCRIBE_METHOD} with something else: ${err.message}`,
        EXIT.failure,
      );
    }
    throw err;
  }
}

async function runOps(io: CliIo, global: GlobalOptions, address: string, flags: CallFlags): Promise<void> {
  const timeoutMs = flags.timeout === undefined ? undefined : parseDuration(flags.timeout);
  const description = await withClient(io, global, (fabric) =>
    describeAt(fabric.endpoint, address, timeoutMs),
  );
  io.out(`${flags.json ? JSON.stringify(description, null, 2) : renderOperations(description.operations)}\n`);
}

const TIMEOUT_HELP = "per-attempt timeout: ms, or with a unit (5s, 2m); default FAME_RPC_TIMEOUT_MS or 30s";

export function registerRpcCommands(program: Command, io: CliIo, global: () => GlobalOptions): void {
  program
    .command("call")
    .description("call an operation and print its result (a streamed answer: one item per line)")
    .argument("<address>", "the agent's address, e.g. math@fame.fabric")
    .argument("<operation>", "operation name, e.g. add")
    .argument(
      "[params]",
      'JSON params, e.g. \'{"x":3,"y":4}\' (default {}); - reads them from stdin, @file from a file',
    )
    .option("--json", "print the result as JSON (strings quoted; streams as NDJSON)")
    .option("--timeout <duration>", TIMEOUT_HELP)
    .addHelpText("after", `\nExample:\n  fame call math@fame.fabric add '{"x":3,"y":4}'    prints 7`)
    .action(async (address: string, method: string, params: string | undefined, flags: CallFlags) =>
      runCall(io, global(), address, method, parseParams(await paramsText(io, params)), flags),
    );

  program
    .command("stream")
    .description("call a streaming operation and print items as they arrive; Ctrl-C cancels it")
    .argument("<address>", "the agent's address")
    .argument("<operation>", "streaming operation name, e.g. fib_stream")
    .argument("[params]", "JSON params (default {}); - reads them from stdin, @file from a file")
    .option("--json", "NDJSON: one JSON value per line")
    .option("--timeout <duration>", `${TIMEOUT_HELP}; also the longest wait between two items`)
    .addHelpText("after", `\nExample:\n  fame stream math@fame.fabric fib_stream '{"n":10}'`)
    .action(async (address: string, method: string, params: string | undefined, flags: CallFlags) =>
      runCall(io, global(), address, method, parseParams(await paramsText(io, params)), flags),
    );

  program
    .command("ops")
    .description(`list the operations an agent serves (its built-in ${DESCRIBE_METHOD})`)
    .argument("<address>", "the agent's address")
    .option("--json", "print the description as JSON")
    .option("--timeout <duration>", TIMEOUT_HELP)
    .action((address: string, flags: CallFlags) => runOps(io, global(), address, flags));
}
