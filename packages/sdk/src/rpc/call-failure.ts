/**
 * What happens to an error an operation threw: the answer the caller gets, and the line the
 * agent logs. An `RpcError` is the agent's chosen answer and passes through; anything else is
 * a bug or an outage behind the agent, so the caller gets a generic internal error (no
 * message, no stack: they may hold internals) and the agent's log gets the stack.
 */
import type { Logger } from "@fame/logger";
import type { CallContext } from "./call-context.js";
import { encodeError, type RpcId, truncate } from "./jsonrpc.js";
import { FameRpcCode, RpcError, RpcErrorCode } from "./rpc-error.js";
import type { JsonObject } from "./transport.js";

/** Messages of agent-chosen errors are passed on, but not without bound. */
const MAX_USER_ERROR_MESSAGE = 1024;
const MAX_LOGGED_MESSAGE = 300;

/** Error response for anything an operation threw. */
export function errorPayload(id: RpcId, err: unknown, op?: string): JsonObject {
  if (err instanceof RpcError) {
    const code = Number.isSafeInteger(err.code) ? err.code : RpcErrorCode.INTERNAL_ERROR;
    const message = typeof err.message === "string" ? err.message : "error";
    const fame = typeof err.fameCode === "string" && err.fameCode.length > 0 ? err.fameCode : undefined;
    return encodeError(id, code, truncate(message, MAX_USER_ERROR_MESSAGE), fame);
  }
  return encodeError(
    id,
    RpcErrorCode.INTERNAL_ERROR,
    `internal error in ${op === undefined ? "the operation" : `operation ${op}`} (logged by the agent)`,
    FameRpcCode.INTERNAL_ERROR,
  );
}

/** The code and fame code the caller is told for `err`. */
export function codesOf(err: unknown): { code: number; fameCode: string | undefined } {
  if (err instanceof RpcError) {
    return {
      code: Number.isSafeInteger(err.code) ? err.code : RpcErrorCode.INTERNAL_ERROR,
      fameCode: typeof err.fameCode === "string" && err.fameCode.length > 0 ? err.fameCode : undefined,
    };
  }
  return { code: RpcErrorCode.INTERNAL_ERROR, fameCode: FameRpcCode.INTERNAL_ERROR };
}

/** Who called, for a log line: the certificate's SPIFFE id when there is one, else the sid. */
export function callerLabel(ctx: CallContext): string {
  const caller = ctx.caller;
  return caller.spiffeId ?? caller.systemId ?? caller.sid;
}

/**
 * Logs a failed call on the agent: invalid params at info (the caller's mistake), other
 * errors at warn, unexpected ones with their stack. Never params or results; the corrId (a
 * capability: it names the caller's call) only at debug.
 */
export function logCallFailure(log: Logger, op: string, ctx: CallContext, err: unknown): void {
  const fields: Record<string, unknown> = { op, address: ctx.address, caller: callerLabel(ctx) };
  if (log.isLevelEnabled("debug")) fields["corrId"] = ctx.corrId;
  if (err instanceof RpcError) {
    fields["code"] = err.code;
    if (err.fameCode !== undefined) fields["fameCode"] = err.fameCode;
    fields["error"] = truncate(messageOf(err), MAX_LOGGED_MESSAGE);
    if (err.code === RpcErrorCode.INVALID_PARAMS) log.info(fields, "call refused: invalid params");
    else log.warn(fields, "operation failed");
    return;
  }
  fields["error"] = truncate(messageOf(err), MAX_LOGGED_MESSAGE);
  if (err instanceof Error && typeof err.stack === "string") fields["stack"] = err.stack;
  log.warn(fields, "operation threw");
}

export function messageOf(err: unknown): string {
  try {
    if (err instanceof Error)
      return typeof err.message === "string" && err.message.length > 0 ? err.message : err.name;
    return String(err);
  } catch {
    return "operation failed";
  }
}
