/**
 * Caller side of the RPC layer: validates calls, runs their attempts through the CallTable
 * (requests, replies, timeouts, streams) and re-sends failed calls when the retry policy says
 * it is safe.
 */
import { jsonText, newId } from "@fame/protocol";
import type { Tracer } from "@fame/telemetry";
import { AttemptFailure, type AttemptOptions, CallTable, describe, type RpcResult } from "./call-table.js";
import { ClientCallTrace, TRACEPARENT_META } from "./call-trace.js";
import { type RpcDiagnosticSink, reportDiagnostic } from "./diagnostic.js";
import { isPlainObject, toJsonValue } from "./json-value.js";
import {
  DEFAULT_STREAM_WINDOW,
  isValidMethodName,
  MAX_STREAM_WINDOW,
  type RpcErrorObject,
  type RpcReplyMessage,
} from "./jsonrpc.js";
import {
  backoffDelayMs,
  FAILOVER_CODES,
  type RetryPolicy,
  resolveRetryPolicy,
  settlingNoRoute,
  shouldRetry,
} from "./retry-policy.js";
import { FameRpcCode, RpcError, RpcErrorCode } from "./rpc-error.js";
import type { FailCallOptions, JsonObject, RpcMessageMeta, RpcOutbound } from "./transport.js";

export type { RpcResult } from "./call-table.js";

export const DEFAULT_CALL_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_PENDING_CALLS = 10_000;
const MAX_TIMER_MS = 2_147_483_647;

export interface RetryInfo {
  address: string;
  method: string;
  /** 1 for the first resend. */
  attempt: number;
  /** Correlation id of the attempt that failed. */
  failedCorrId: string;
}

export type { RpcDiagnostic, RpcDiagnosticSink } from "./diagnostic.js";

export interface RpcClientOptions {
  /** Per-attempt timeout when a call sets none (default 30 s). */
  defaultTimeoutMs?: number;
  /** Calls (including open streams) awaiting replies; beyond it calls fail at once. */
  maxPendingCalls?: number;
  /** Credit window offered for streamed answers (default 32, at most 1024). */
  streamWindow?: number;
  /** Default retry policy; calls may override fields. */
  retry?: Partial<RetryPolicy>;
  /** Awaited before every resend, e.g. to re-open a secure channel; a rejection stops retrying. */
  beforeRetry?: (code: string, info: RetryInfo) => Promise<void>;
  /** Source of jitter in [0, 1); injectable for tests. */
  random?: () => number;
  /** Monotonic clock in ms, for the failover latency metric. */
  now?: () => number;
  newCorrId?: () => string;
  onDiagnostic?: RpcDiagnosticSink;
  /** makes a CLIENT span per call and carries its trace context (none: calls are not traced) */
  tracer?: Tracer | undefined;
  /** told the trace id of each traced call as it starts (verbose output) */
  onTraced?: ((call: { traceId: string; address: string; method: string }) => void) | undefined;
}

export interface CallOptions {
  /** Per-attempt timeout in ms. */
  timeoutMs?: number;
  /** The operation may run twice without harm, so any transient failure may be retried. */
  idempotent?: boolean;
  /** Overrides of the client's retry policy, or false for no retries. */
  retry?: Partial<RetryPolicy> | false;
  meta?: Record<string, string>;
  streamWindow?: number;
  /** Aborting rejects a waiting call with fame code `cancelled`. */
  signal?: AbortSignal;
}

export interface RpcClientMetrics {
  /** Logical calls started (resends not included). */
  calls: number;
  /** Resends. */
  retries: number;
  /** Resends after `channel_unknown` or `replica_unavailable`. */
  failovers: number;
  /** Logical calls that finally failed. */
  failures: number;
  /**
   * For the last call that succeeded after a failover (or after NOT_ACTIVE retries, i.e. a
   * standby's promotion): ms from its first failure to success.
   */
  lastFailoverLatencyMs: number | undefined;
}

export class RpcClient {
  readonly #outbound: RpcOutbound;
  readonly #calls: CallTable;
  readonly #defaultTimeoutMs: number;
  readonly #window: number;
  readonly #policy: Readonly<RetryPolicy>;
  readonly #beforeRetry: RpcClientOptions["beforeRetry"];
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #newCorrId: () => string;
  readonly #diag: RpcDiagnosticSink | undefined;
  readonly #tracer: Tracer | undefined;
  readonly #onTraced: RpcClientOptions["onTraced"];
  readonly #metrics: RpcClientMetrics = {
    calls: 0,
    retries: 0,
    failovers: 0,
    failures: 0,
    lastFailoverLatencyMs: undefined,
  };

  constructor(outbound: RpcOutbound, options: RpcClientOptions = {}) {
    this.#outbound = outbound;
    this.#defaultTimeoutMs = checkTimeout(
      options.defaultTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
      "defaultTimeoutMs",
    );
    const maxPending = checkPositiveInt(
      options.maxPendingCalls ?? DEFAULT_MAX_PENDING_CALLS,
      "maxPendingCalls",
    );
    this.#window = checkWindow(options.streamWindow ?? DEFAULT_STREAM_WINDOW);
    this.#policy = resolveRetryPolicy(options.retry);
    this.#beforeRetry = options.beforeRetry;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? (() => performance.now());
    // 128 random bits in 22 characters (a UUID takes 36 for 122): every call's id travels in its
    // request, its reply and the batch lists of both records, and is hashed at each hop
    this.#newCorrId = options.newCorrId ?? newId;
    this.#diag = options.onDiagnostic;
    this.#tracer = options.tracer;
    this.#onTraced = options.onTraced;
    this.#calls = new CallTable(outbound, maxPending, options.onDiagnostic);
  }

  metrics(): RpcClientMetrics {
    return { ...this.#metrics };
  }

  /** Calls and open streams still waiting for the callee. */
  get pendingCount(): number {
    return this.#calls.size;
  }

  /**
   * Call `method` at `address`. Resolves to the result, or to an `RpcStream` when the callee
   * answers with a stream; rejects with an `RpcError`.
   */
  async call(
    address: string,
    method: string,
    params?: unknown,
    options: CallOptions = {},
  ): Promise<RpcResult> {
    this.#metrics.calls++;
    // decided once at construction: without a tracer a call pays this one field check
    if (this.#tracer !== undefined) return this.#tracedCall(this.#tracer, address, method, params, options);
    try {
      return await this.#callWithRetry(address, method, params, options, undefined);
    } catch (err) {
      this.#metrics.failures++;
      throw err instanceof AttemptFailure ? err.error : err;
    }
  }

  async #tracedCall(
    tracer: Tracer,
    address: string,
    method: string,
    params: unknown,
    options: CallOptions,
  ): Promise<RpcResult> {
    const trace = new ClientCallTrace(tracer, address, method);
    this.#onTraced?.({ traceId: trace.traceId, address, method });
    try {
      const result = await this.#callWithRetry(address, method, params, options, trace);
      trace.end(undefined);
      return result;
    } catch (err) {
      this.#metrics.failures++;
      const error = err instanceof AttemptFailure ? err.error : err;
      trace.end(error instanceof RpcError ? (error.fameCode ?? String(error.code)) : "internal_error");
      throw error;
    }
  }

  async #callWithRetry(
    address: string,
    method: string,
    params: unknown,
    options: CallOptions,
    trace: ClientCallTrace | undefined,
  ): Promise<RpcResult> {
    if (typeof address !== "string" || address.length === 0)
      throw new TypeError("address must be a non-empty string");
    if (!isValidMethodName(method)) {
      throw new RpcError(RpcErrorCode.INVALID_REQUEST, "method must be a string of 1..128 chars", undefined, {
        notExecuted: true,
      });
    }
    const timeoutMs = checkTimeout(options.timeoutMs ?? this.#defaultTimeoutMs, "timeoutMs");
    const window = checkWindow(options.streamWindow ?? this.#window);
    const policy =
      options.retry === false
        ? resolveRetryPolicy({ maxRetries: 0 }, this.#policy)
        : resolveRetryPolicy(options.retry, this.#policy);
    const payloadParams = encodeParams(params);
    // made once for every attempt of the call, when the transport writes text
    const paramsJson =
      payloadParams !== undefined && this.#outbound.prefersJsonText ? jsonText(payloadParams) : undefined;
    const idempotent = options.idempotent === true;
    const attemptOptions: AttemptOptions =
      trace === undefined
        ? options
        : { ...options, meta: { ...options.meta, [TRACEPARENT_META]: trace.traceparent }, trace };

    let attempt = 0;
    /** resends so far, budgeted or not: the backoff grows with every one */
    let resends = 0;
    let firstFailureAt: number | undefined;
    let failedOver = false;
    for (;;) {
      const corrId = this.#newCorrId();
      try {
        const result = await this.#calls.attempt(
          address,
          method,
          payloadParams,
          corrId,
          timeoutMs,
          window,
          attemptOptions,
          paramsJson,
        );
        if (failedOver && firstFailureAt !== undefined) {
          // to the tenth of a millisecond: performance.now()'s noise digits say nothing
          this.#metrics.lastFailoverLatencyMs = Math.round((this.#now() - firstFailureAt) * 10) / 10;
        }
        return result;
      } catch (err) {
        if (!(err instanceof AttemptFailure)) throw err;
        firstFailureAt ??= this.#now();
        const code = err.info.fameCode;
        // a no_route just after a reattach is waited out, bounded by the settling window
        const settling = settlingNoRoute(err.info) && policy.maxRetries > 0;
        if (
          err.local ||
          (attempt >= policy.maxRetries && !settling) ||
          code === undefined ||
          !shouldRetry(err.info, idempotent, policy)
        ) {
          throw err;
        }
        if (!settling) attempt++;
        resends++;
        await this.#backoff(backoffDelayMs(policy, resends - 1, this.#random), options.signal, err);
        if (this.#beforeRetry !== undefined) {
          try {
            await this.#beforeRetry(code, { address, method, attempt: resends, failedCorrId: corrId });
          } catch (hookErr) {
            reportDiagnostic(this.#diag, "before_retry_failed", corrId, describe(hookErr));
            throw err;
          }
        }
        if (this.#calls.closed !== undefined) throw err;
        this.#metrics.retries++;
        if (FAILOVER_CODES.has(code)) {
          this.#metrics.failovers++;
          failedOver = true;
        } else if (code === FameRpcCode.NOT_ACTIVE) {
          // Waiting out a NOT_ACTIVE is waiting for a standby's promotion: time it like a failover.
          failedOver = true;
        }
        trace?.retried(code, FAILOVER_CODES.has(code));
      }
    }
  }

  #backoff(ms: number, signal: AbortSignal | undefined, failure: AttemptFailure): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(failure);
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(failure);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** A validated reply for one of our calls (matched by envelope correlation id). */
  handleReply(message: RpcReplyMessage, m: RpcMessageMeta): void {
    this.#calls.handleReply(message, m);
  }

  /** A reply for `corrId` failed validation: end the call now rather than at its timeout. */
  rejectMalformedReply(corrId: string, error: RpcErrorObject): void {
    this.#calls.rejectMalformedReply(corrId, error);
  }

  /**
   * The transport reports that the message for `corrId` failed (e.g. a negative DeliveryAck).
   * Returns false when no call is waiting on that id.
   */
  failCall(corrId: string, code: string, reason: string, options: FailCallOptions = {}): boolean {
    return this.#calls.failCall(corrId, code, reason, options);
  }

  /** Fail every pending call, e.g. when the connection dropped. Returns how many. */
  failAll(code: string, reason: string, options: { notExecuted?: boolean } = {}): number {
    return this.#calls.failAll(code, reason, options);
  }

  /** Reject everything pending and refuse new calls. */
  close(reason = "rpc client closed"): void {
    this.#calls.close(new RpcError(RpcErrorCode.SERVER_ERROR, reason, FameRpcCode.NOT_ACTIVE));
  }
}

/** Params are an object (or absent) and must survive JSON; checked before anything is sent. */
function encodeParams(params: unknown): JsonObject | undefined {
  if (params === undefined) return undefined;
  const converted =
    typeof params === "object" && params !== null && !Array.isArray(params) ? toJsonValue(params) : undefined;
  if (converted === undefined || !converted.ok || !isPlainObject(converted.value)) {
    const reason = converted !== undefined && !converted.ok ? `: ${converted.reason}` : "";
    throw new RpcError(
      RpcErrorCode.INVALID_PARAMS,
      `params must be a JSON object${reason}`,
      FameRpcCode.INVALID_PARAMS,
      {
        notExecuted: true,
      },
    );
  }
  return converted.value as JsonObject;
}

function checkTimeout(value: number, name: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0 || value > MAX_TIMER_MS) {
    throw new RangeError(`${name} must be a number in (0, ${MAX_TIMER_MS}]`);
  }
  return value;
}

function checkPositiveInt(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
  return value;
}

function checkWindow(value: number): number {
  if (!Number.isSafeInteger(value) || value < 1 || value > MAX_STREAM_WINDOW) {
    throw new RangeError(`streamWindow must be an integer in 1..${MAX_STREAM_WINDOW}`);
  }
  return value;
}
