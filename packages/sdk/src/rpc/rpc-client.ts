/**
 * Caller side of the RPC layer: sends requests, matches replies by correlation id, enforces
 * timeouts, turns streamed answers into `RpcStream`s and re-sends failed calls when the retry
 * policy says it is safe.
 */
import { randomUUID } from "node:crypto";
import { type RpcDiagnosticSink, reportDiagnostic } from "./diagnostic.js";
import { isPlainObject, toJsonValue } from "./json-value.js";
import {
  DEFAULT_STREAM_WINDOW,
  encodeRequest,
  fameCodeOf,
  isValidMethodName,
  MAX_FAME_CODE_LENGTH,
  MAX_STREAM_WINDOW,
  type RpcErrorObject,
  type RpcReplyMessage,
  truncate,
} from "./jsonrpc.js";
import {
  backoffDelayMs,
  FAILOVER_CODES,
  type FailureInfo,
  type RetryPolicy,
  resolveRetryPolicy,
  shouldRetry,
} from "./retry-policy.js";
import { FameRpcCode, RpcError, RpcErrorCode } from "./rpc-error.js";
import { type RpcStream, StreamReceiver } from "./rpc-stream.js";
import {
  type JsonObject,
  type JsonValue,
  type RpcMessageMeta,
  type RpcOutbound,
  sendVia,
} from "./transport.js";

export const DEFAULT_CALL_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_PENDING_CALLS = 10_000;
const MAX_TIMER_MS = 2_147_483_647;

/** What a call resolves to: a JSON result, or a stream when the callee answered with one. */
export type RpcResult = JsonValue | RpcStream<JsonValue>;

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

/** Why one attempt failed: the error for the caller plus what the retry decision needs. */
class AttemptFailure extends Error {
  readonly error: RpcError;
  readonly info: FailureInfo;
  /** Local failures (bad arguments, cancellation, overload) are never retried. */
  readonly local: boolean;
  constructor(error: RpcError, info: FailureInfo, local = false) {
    super(error.message);
    this.error = error;
    this.info = info;
    this.local = local;
  }
}

interface WaitingCall {
  kind: "waiting";
  id: string;
  address: string;
  method: string;
  window: number;
  timeoutMs: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  resolve: (value: RpcResult) => void;
  reject: (failure: AttemptFailure) => void;
}

interface StreamingCall {
  kind: "stream";
  id: string;
  receiver: StreamReceiver;
}

type PendingCall = WaitingCall | StreamingCall;

export class RpcClient {
  readonly #outbound: RpcOutbound;
  readonly #pending = new Map<string, PendingCall>();
  readonly #defaultTimeoutMs: number;
  readonly #maxPending: number;
  readonly #window: number;
  readonly #policy: Readonly<RetryPolicy>;
  readonly #beforeRetry: RpcClientOptions["beforeRetry"];
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #newCorrId: () => string;
  readonly #diag: RpcDiagnosticSink | undefined;
  readonly #metrics: RpcClientMetrics = {
    calls: 0,
    retries: 0,
    failovers: 0,
    failures: 0,
    lastFailoverLatencyMs: undefined,
  };
  #closed: RpcError | undefined;

  constructor(outbound: RpcOutbound, options: RpcClientOptions = {}) {
    this.#outbound = outbound;
    this.#defaultTimeoutMs = checkTimeout(
      options.defaultTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
      "defaultTimeoutMs",
    );
    this.#maxPending = checkPositiveInt(
      options.maxPendingCalls ?? DEFAULT_MAX_PENDING_CALLS,
      "maxPendingCalls",
    );
    this.#window = checkWindow(options.streamWindow ?? DEFAULT_STREAM_WINDOW);
    this.#policy = resolveRetryPolicy(options.retry);
    this.#beforeRetry = options.beforeRetry;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? (() => performance.now());
    this.#newCorrId = options.newCorrId ?? randomUUID;
    this.#diag = options.onDiagnostic;
  }

  metrics(): RpcClientMetrics {
    return { ...this.#metrics };
  }

  /** Calls and open streams still waiting for the callee. */
  get pendingCount(): number {
    return this.#pending.size;
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
    try {
      return await this.#callWithRetry(address, method, params, options);
    } catch (err) {
      this.#metrics.failures++;
      throw err instanceof AttemptFailure ? err.error : err;
    }
  }

  async #callWithRetry(
    address: string,
    method: string,
    params: unknown,
    options: CallOptions,
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
    const idempotent = options.idempotent === true;

    let attempt = 0;
    let firstFailureAt: number | undefined;
    let failedOver = false;
    for (;;) {
      const corrId = this.#newCorrId();
      try {
        const result = await this.#attempt(
          address,
          method,
          payloadParams,
          corrId,
          timeoutMs,
          window,
          options,
        );
        if (failedOver && firstFailureAt !== undefined) {
          this.#metrics.lastFailoverLatencyMs = this.#now() - firstFailureAt;
        }
        return result;
      } catch (err) {
        if (!(err instanceof AttemptFailure)) throw err;
        firstFailureAt ??= this.#now();
        const code = err.info.fameCode;
        if (
          err.local ||
          attempt >= policy.maxRetries ||
          code === undefined ||
          !shouldRetry(err.info, idempotent, policy)
        ) {
          throw err;
        }
        attempt++;
        await this.#backoff(backoffDelayMs(policy, attempt - 1, this.#random), options.signal, err);
        if (this.#beforeRetry !== undefined) {
          try {
            await this.#beforeRetry(code, { address, method, attempt, failedCorrId: corrId });
          } catch (hookErr) {
            reportDiagnostic(this.#diag, "before_retry_failed", corrId, describe(hookErr));
            throw err;
          }
        }
        if (this.#closed !== undefined) throw err;
        this.#metrics.retries++;
        if (FAILOVER_CODES.has(code)) {
          this.#metrics.failovers++;
          failedOver = true;
        } else if (code === FameRpcCode.NOT_ACTIVE) {
          // Waiting out a NOT_ACTIVE is waiting for a standby's promotion: time it like a failover.
          failedOver = true;
        }
      }
    }
  }

  #attempt(
    address: string,
    method: string,
    params: JsonObject | undefined,
    corrId: string,
    timeoutMs: number,
    window: number,
    options: CallOptions,
  ): Promise<RpcResult> {
    if (this.#closed !== undefined) return Promise.reject(localFailure(this.#closed));
    if (options.signal?.aborted) return Promise.reject(localFailure(cancelledError()));
    if (this.#pending.size >= this.#maxPending) {
      return Promise.reject(
        localFailure(
          new RpcError(RpcErrorCode.SERVER_ERROR, "too many pending calls", FameRpcCode.TOO_MANY_INFLIGHT, {
            notExecuted: true,
          }),
        ),
      );
    }
    if (this.#pending.has(corrId)) {
      return Promise.reject(
        localFailure(new RpcError(RpcErrorCode.INTERNAL_ERROR, "duplicate correlation id")),
      );
    }
    return new Promise<RpcResult>((resolve, reject) => {
      const call: WaitingCall = {
        kind: "waiting",
        id: corrId,
        address,
        method,
        window,
        timeoutMs,
        timer: undefined,
        resolve,
        reject,
      };
      const signal = options.signal;
      if (signal !== undefined) {
        // only a cancellable call pays for the listener and the wrappers that remove it
        const onAbort = (): void => {
          if (this.#pending.get(corrId) === call)
            this.#settleFailure(corrId, call, localFailure(cancelledError()));
        };
        call.resolve = (value) => {
          signal.removeEventListener("abort", onAbort);
          resolve(value);
        };
        call.reject = (failure) => {
          signal.removeEventListener("abort", onAbort);
          reject(failure);
        };
        signal.addEventListener("abort", onAbort, { once: true });
      }
      // the timer's arguments instead of a closure per call
      call.timer = setTimeout(RpcClient.#expire, timeoutMs, this, corrId, call);
      call.timer.unref?.();
      this.#pending.set(corrId, call);

      const request = encodeRequest(corrId, method, params, window);
      const meta = options.meta;
      sendVia(
        this.#outbound,
        address,
        request,
        meta === undefined ? { corrId } : { corrId, meta },
        (err: unknown) => {
          if (this.#pending.get(corrId) !== call) return;
          // The connection layer may classify its own failure with an RpcError.
          const error =
            err instanceof RpcError
              ? err
              : new RpcError(
                  RpcErrorCode.SERVER_ERROR,
                  `send failed: ${describe(err)}`,
                  FameRpcCode.INTERNAL_ERROR,
                );
          this.#settleFailure(
            corrId,
            call,
            new AttemptFailure(error, transportInfo(error.fameCode, error.notExecuted)),
          );
        },
      );
    });
  }

  /** a waiting call's timer ran out */
  static #expire(client: RpcClient, corrId: string, call: WaitingCall): void {
    call.timer = undefined;
    if (client.#pending.get(corrId) !== call) return;
    const error = new RpcError(
      RpcErrorCode.SERVER_ERROR,
      `call ${call.method} at ${call.address} timed out after ${call.timeoutMs} ms`,
      FameRpcCode.TIMEOUT,
    );
    client.#settleFailure(corrId, call, new AttemptFailure(error, transportInfo(FameRpcCode.TIMEOUT, false)));
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
    const call = this.#pending.get(m.corrId);
    if (call === undefined || message.id !== call.id) {
      // Late replies after a timeout or cancel are normal; anything else is noise.
      reportDiagnostic(this.#diag, "unmatched_reply", m.corrId, message.kind);
      return;
    }
    if (call.kind === "stream") {
      const r = call.receiver;
      switch (message.kind) {
        case "item":
          r.onItem(message.seq, message.result);
          break;
        case "end":
          r.onEnd(message.seq);
          break;
        case "error":
          r.fail(errorFromWire(message.error));
          break;
        default:
          r.fail(
            new RpcError(RpcErrorCode.SERVER_ERROR, "unary result inside a stream", FameRpcCode.BAD_MESSAGE),
          );
      }
      return;
    }
    switch (message.kind) {
      case "result":
        this.#clearWaiting(m.corrId, call);
        call.resolve(message.result);
        return;
      case "error": {
        const error = errorFromWire(message.error);
        const info: FailureInfo = { fameCode: error.fameCode, transport: false, notExecuted: false };
        this.#settleFailure(m.corrId, call, new AttemptFailure(error, info));
        return;
      }
      default: {
        // The first item (or an immediate end) tells us the answer is a stream.
        this.#clearWaiting(m.corrId, call);
        const corrId = m.corrId;
        // Credits go to whoever is producing the stream: with replicas that is the
        // replica's own address, not the logical one we called.
        const source = m.from ?? call.address;
        const receiver = new StreamReceiver({
          id: call.id,
          window: call.window,
          idleTimeoutMs: call.timeoutMs,
          method: call.method,
          host: {
            sendControl: (payload) => {
              sendVia(this.#outbound, source, payload, { corrId }, (err: unknown) => {
                reportDiagnostic(this.#diag, "stream_control_send_failed", corrId, describe(err));
              });
            },
            release: () => {
              if (this.#pending.get(corrId) === entry) this.#pending.delete(corrId);
            },
          },
        });
        const entry: StreamingCall = { kind: "stream", id: call.id, receiver };
        this.#pending.set(corrId, entry);
        call.resolve(receiver.stream);
        if (message.kind === "item") receiver.onItem(message.seq, message.result);
        else receiver.onEnd(message.seq);
      }
    }
  }

  /** A reply for `corrId` failed validation: end the call now rather than at its timeout. */
  rejectMalformedReply(corrId: string, error: RpcErrorObject): void {
    const call = this.#pending.get(corrId);
    if (call === undefined) return;
    const err = new RpcError(
      RpcErrorCode.SERVER_ERROR,
      `malformed reply: ${error.message}`,
      FameRpcCode.BAD_MESSAGE,
    );
    if (call.kind === "stream") {
      call.receiver.fail(err);
      return;
    }
    this.#settleFailure(
      corrId,
      call,
      new AttemptFailure(err, { fameCode: err.fameCode, transport: false, notExecuted: false }),
    );
  }

  /**
   * The transport reports that the message for `corrId` failed (e.g. a negative DeliveryAck).
   * Returns false when no call is waiting on that id.
   */
  failCall(corrId: string, code: string, reason: string, options: { notExecuted?: boolean } = {}): boolean {
    const call = typeof corrId === "string" ? this.#pending.get(corrId) : undefined;
    if (call === undefined) return false;
    const fameCode =
      typeof code === "string" && code.length > 0 && code.length <= MAX_FAME_CODE_LENGTH
        ? code
        : FameRpcCode.INTERNAL_ERROR;
    const message = typeof reason === "string" && reason.length > 0 ? truncate(reason, 1024) : fameCode;
    const notExecuted = options.notExecuted === true;
    const error = new RpcError(RpcErrorCode.SERVER_ERROR, message, fameCode, { notExecuted });
    if (call.kind === "stream") {
      call.receiver.fail(error);
    } else {
      this.#settleFailure(corrId, call, new AttemptFailure(error, transportInfo(fameCode, notExecuted)));
    }
    return true;
  }

  /** Fail every pending call, e.g. when the connection dropped. Returns how many. */
  failAll(code: string, reason: string, options: { notExecuted?: boolean } = {}): number {
    let n = 0;
    for (const corrId of [...this.#pending.keys()]) if (this.failCall(corrId, code, reason, options)) n++;
    return n;
  }

  /** Reject everything pending and refuse new calls. */
  close(reason = "rpc client closed"): void {
    this.#closed ??= new RpcError(RpcErrorCode.SERVER_ERROR, reason, FameRpcCode.NOT_ACTIVE);
    for (const [corrId, call] of [...this.#pending]) {
      if (call.kind === "stream") call.receiver.fail(this.#closed);
      else this.#settleFailure(corrId, call, localFailure(this.#closed));
    }
  }

  #clearWaiting(corrId: string, call: WaitingCall): void {
    if (call.timer !== undefined) clearTimeout(call.timer);
    call.timer = undefined;
    if (this.#pending.get(corrId) === call) this.#pending.delete(corrId);
  }

  #settleFailure(corrId: string, call: WaitingCall, failure: AttemptFailure): void {
    this.#clearWaiting(corrId, call);
    call.reject(failure);
  }
}

function transportInfo(fameCode: string | undefined, notExecuted: boolean): FailureInfo {
  return { fameCode, transport: true, notExecuted };
}

function localFailure(error: RpcError): AttemptFailure {
  return new AttemptFailure(error, { fameCode: error.fameCode, transport: false, notExecuted: true }, true);
}

function cancelledError(): RpcError {
  return new RpcError(RpcErrorCode.SERVER_ERROR, "call cancelled by caller", FameRpcCode.CANCELLED);
}

function errorFromWire(error: RpcErrorObject): RpcError {
  return new RpcError(error.code, error.message, fameCodeOf(error));
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

function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  try {
    return String(err);
  } catch {
    return "unknown error";
  }
}
