/** Any failure → one line for stderr and an exit code. */
import { ConfigError } from "@fame/config";
import { LogSettingError } from "@fame/logger";
import { FameRpcCode, isRpcError, RpcErrorCode, trustProblem, withTrustHint } from "@fame/sdk/codes";
import { CliError, EXIT, type ExitCode } from "./exit-codes.js";

const BAD_ADDRESS = "bad_address";
const UNREACHABLE_CONNECTION = new Set(["connect_failed", "timeout", "disconnected"]);
const UNREACHABLE_ADMISSION = new Set(["network", "timeout"]);
/** a cluster's sentinel cut off from its shared state (NATS): transient, and not the CLI's fault */
const STATE_UNAVAILABLE = "state_unavailable";
const STATE_HINT =
  "the cluster's shared state (NATS) is unreachable: try again shortly; make status shows the NATS servers";

interface Coded {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  /** a busy answer's Retry-After (the SDK's ConnectionError, identity's AdmissionError) */
  retryAfterSec?: unknown;
}

/** What went wrong, as the user should read it, and the exit code that says so to a script. */
export function explain(err: unknown): { message: string; exitCode: ExitCode } {
  if (err instanceof CliError) return { message: err.message, exitCode: err.exitCode };
  if (err instanceof ConfigError || err instanceof LogSettingError) {
    return { message: err.message, exitCode: EXIT.usage };
  }
  if (isRpcError(err)) {
    const code = err.fameCode ? `${err.code} ${err.fameCode}` : String(err.code);
    // a malformed address is refused before anything is sent: the command line was wrong
    const exitCode =
      err.fameCode === BAD_ADDRESS
        ? EXIT.usage
        : (err.fameCode === FameRpcCode.TIMEOUT && err.code !== RpcErrorCode.INVALID_PARAMS) ||
            err.fameCode === STATE_UNAVAILABLE
          ? EXIT.unreachable
          : EXIT.failure;
    const hint = err.fameCode === STATE_UNAVAILABLE ? ` (${STATE_HINT})` : "";
    return { message: `error ${code}: ${err.message}${hint}`, exitCode };
  }
  const e = (typeof err === "object" && err !== null ? err : {}) as Coded;
  const message = typeof e.message === "string" ? e.message : String(err);
  const code = typeof e.code === "string" ? e.code : "";
  // which service a connection or admission failure comes from; undefined for anything else
  const who =
    e.name === "ConnectionError" ? "sentinel" : e.name === "AdmissionError" ? "admission" : undefined;
  // Still busy after FAME_START_WAIT_MS (a 429/503 with Retry-After): running, not down
  if (who !== undefined && typeof e.retryAfterSec === "number") {
    return {
      message: `${who}: ${message} (the fabric is busy: try again in ${e.retryAfterSec} s, or allow a longer FAME_START_WAIT_MS)`,
      exitCode: EXIT.unreachable,
    };
  }
  // a refused server certificate: the service is up, the trust bundle is wrong (a setting)
  if (who !== undefined && trustProblem(message) !== undefined)
    return { message: `${who}: ${withTrustHint(message)}`, exitCode: EXIT.usage };
  // the SDK's and identity's error classes are matched by name: the CLI does not load identity
  if (e.name === "ConnectionError") {
    if (code === STATE_UNAVAILABLE)
      return { message: `sentinel: ${message} (${STATE_HINT})`, exitCode: EXIT.unreachable };
    const unreachable = UNREACHABLE_CONNECTION.has(code);
    return {
      message: `sentinel: ${message}${unreachable ? " (is the fabric running? make start)" : ""}`,
      exitCode: unreachable ? EXIT.unreachable : EXIT.failure,
    };
  }
  if (e.name === "AdmissionError") {
    const unreachable = UNREACHABLE_ADMISSION.has(code);
    return {
      message: `admission ${message}${unreachable ? " (are the fabric's identity services running? make start)" : ""}`,
      exitCode: unreachable ? EXIT.unreachable : EXIT.failure,
    };
  }
  return { message, exitCode: EXIT.failure };
}
