/** JSON-RPC 2.0 standard error codes, plus the generic server-error code FAME failures use. */
export const RpcErrorCode = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  /** Implementation-defined server error; the precise reason is in `data.fame_code`. */
  SERVER_ERROR: -32000,
} as const;

/**
 * FAME codes this layer itself produces in `data.fame_code`. Other codes (from the sentinel or
 * from agents) pass through unchanged, so the field stays a plain string.
 */
export const FameRpcCode = {
  TIMEOUT: "timeout",
  CANCELLED: "cancelled",
  TOO_MANY_INFLIGHT: "too_many_inflight",
  METHOD_NOT_FOUND: "method_not_found",
  INVALID_PARAMS: "invalid_params",
  INTERNAL_ERROR: "internal_error",
  BAD_MESSAGE: "bad_envelope",
  NO_ROUTE: "no_route",
  CHANNEL_UNKNOWN: "channel_unknown",
  REPLICA_UNAVAILABLE: "replica_unavailable",
  NOT_ACTIVE: "NOT_ACTIVE",
} as const;

export interface RpcErrorOptions {
  /** True when the failure proves the request never reached user code (safe to resend). */
  notExecuted?: boolean;
  cause?: unknown;
}

/**
 * An error with a JSON-RPC code and an optional FAME code. Thrown by agents to choose the
 * error response they send, and raised to callers for every failed call.
 */
export class RpcError extends Error {
  readonly code: number;
  readonly fameCode: string | undefined;
  readonly notExecuted: boolean;

  constructor(code: number, message: string, fameCode?: string, options: RpcErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "RpcError";
    this.code = code;
    this.fameCode = fameCode;
    this.notExecuted = options.notExecuted === true;
  }
}

export function isRpcError(value: unknown): value is RpcError {
  return value instanceof RpcError;
}
