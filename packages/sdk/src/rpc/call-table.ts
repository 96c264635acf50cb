/**
 * The caller's calls in flight, by correlation id: sends each attempt, enforces its timeout,
 * matches replies and delivery failures to it, and turns a streamed answer into an RpcStream.
 * Retrying is RpcClient's business; an attempt here ends in one answer or one AttemptFailure.
 */

import type { ClientCallTrace } from "./call-trace.js";
import { type RpcDiagnosticSink, reportDiagnostic } from "./diagnostic.js";
import {
  encodeRequest,
  encodeStreamCancel,
  fameCodeOf,
  MAX_FAME_CODE_LENGTH,
  type RpcErrorObject,
  type RpcReplyMessage,
  requestText,
  truncate,
} from "./jsonrpc.js";
import type { FailureInfo } from "./retry-policy.js";
import { FameRpcCode, RpcError, RpcErrorCode } from "./rpc-error.js";
import { type RpcStream, StreamReceiver } from "./rpc-stream.js";
import {
  type FailCallOptions,
  type JsonObject,
  type JsonValue,
  type RpcMessageMeta,
  type RpcOutbound,
  sendVia,
} from "./transport.js";

/** What a call resolves to: a JSON result, or a stream when the callee answered with one. */
export type RpcResult = JsonValue | RpcStream<JsonValue>;

/** The parts of a call's options one attempt uses. */
export interface AttemptOptions {
  meta?: Record<string, string>;
  signal?: AbortSignal;
  /** a traced call: its context goes in the request, and it learns the channel used */
  trace?: ClientCallTrace;
}

/** Why one attempt failed: the error for the caller plus what the retry decision needs. */
export class AttemptFailure extends Error {
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
  /** the caller's signal, if any: it also cancels the stream the answer may turn into */
  signal: AbortSignal | undefined;
  resolve: (value: RpcResult) => void;
  reject: (failure: AttemptFailure) => void;
}

interface StreamingCall {
  kind: "stream";
  id: string;
  receiver: StreamReceiver;
}

type PendingCall = WaitingCall | StreamingCall;

export class CallTable {
  readonly #outbound: RpcOutbound;
  readonly #pending = new Map<string, PendingCall>();
  readonly #maxPending: number;
  readonly #diag: RpcDiagnosticSink | undefined;
  #closed: RpcError | undefined;

  constructor(outbound: RpcOutbound, maxPending: number, diag: RpcDiagnosticSink | undefined) {
    this.#outbound = outbound;
    this.#maxPending = maxPending;
    this.#diag = diag;
  }

  /** set by close(): every attempt fails with it */
  get closed(): RpcError | undefined {
    return this.#closed;
  }

  /** Calls and open streams still waiting for the callee. */
  get size(): number {
    return this.#pending.size;
  }

  /** One attempt of a call under `corrId`: sends the request and waits for its answer. */
  attempt(
    address: string,
    method: string,
    params: JsonObject | undefined,
    corrId: string,
    timeoutMs: number,
    window: number,
    options: AttemptOptions,
    /** the params' JSON text, when the transport prefers text (RpcOutbound.prefersJsonText) */
    paramsJson?: string,
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
        signal: options.signal,
        resolve,
        reject,
      };
      const signal = options.signal;
      if (signal !== undefined) {
        // only a cancellable call pays for the listener and the wrappers that remove it
        const onAbort = (): void => {
          if (this.#pending.get(corrId) !== call) return;
          this.#settleFailure(corrId, call, localFailure(cancelledError()));
          // the callee is told, on the call's channel: its operation's ctx.signal aborts, and
          // it does not hold a slot for nobody (best effort: a callee that already answered,
          // or never got the request, refuses it)
          sendVia(this.#outbound, address, encodeStreamCancel(corrId), { corrId }, noop);
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
      call.timer = setTimeout(CallTable.#expire, timeoutMs, this, corrId, call);
      call.timer.unref?.();
      this.#pending.set(corrId, call);

      const request = encodeRequest(corrId, method, params, window);
      const meta = options.meta;
      const trace = options.trace;
      // the request's text from the params' text made once per call (a traced request has more members)
      const json =
        trace === undefined &&
        (paramsJson !== undefined || params === undefined) &&
        this.#outbound.prefersJsonText
          ? requestText(corrId, method, paramsJson, window)
          : undefined;
      if (trace !== undefined) {
        request["traceparent"] = trace.traceparent;
        if (trace.tracestate !== undefined) request["tracestate"] = trace.tracestate;
      }
      sendVia(
        this.#outbound,
        address,
        request,
        trace !== undefined
          ? { corrId, meta: meta ?? {}, onChannel: trace.onChannel }
          : meta === undefined
            ? json === undefined
              ? { corrId }
              : { corrId, json }
            : { corrId, meta, ...(json === undefined ? {} : { json }) },
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
  static #expire(table: CallTable, corrId: string, call: WaitingCall): void {
    call.timer = undefined;
    if (table.#pending.get(corrId) !== call) return;
    const error = new RpcError(
      RpcErrorCode.SERVER_ERROR,
      `call ${call.method} at ${call.address} timed out after ${call.timeoutMs} ms`,
      FameRpcCode.TIMEOUT,
    );
    table.#settleFailure(corrId, call, new AttemptFailure(error, transportInfo(FameRpcCode.TIMEOUT, false)));
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
        const signal = call.signal;
        // The caller's signal outlives the first answer: aborting it cancels the stream at the callee.
        const onAbort = (): void => receiver.cancel(cancelledError());
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
              signal?.removeEventListener("abort", onAbort);
              if (this.#pending.get(corrId) === entry) this.#pending.delete(corrId);
            },
          },
        });
        const entry: StreamingCall = { kind: "stream", id: call.id, receiver };
        this.#pending.set(corrId, entry);
        signal?.addEventListener("abort", onAbort, { once: true });
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
  failCall(corrId: string, code: string, reason: string, options: FailCallOptions = {}): boolean {
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
      const info = transportInfo(fameCode, notExecuted);
      if (options.settling === true) info.settling = true;
      this.#settleFailure(corrId, call, new AttemptFailure(error, info));
    }
    return true;
  }

  /** Fail every pending call, e.g. when the connection dropped. Returns how many. */
  failAll(code: string, reason: string, options: FailCallOptions = {}): number {
    let n = 0;
    for (const corrId of [...this.#pending.keys()]) if (this.failCall(corrId, code, reason, options)) n++;
    return n;
  }

  /** Rejects everything pending with `error`, and every attempt from now on. */
  close(error: RpcError): void {
    this.#closed ??= error;
    const closed = this.#closed;
    for (const [corrId, call] of [...this.#pending]) {
      if (call.kind === "stream") call.receiver.fail(closed);
      else this.#settleFailure(corrId, call, localFailure(closed));
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

export function localFailure(error: RpcError): AttemptFailure {
  return new AttemptFailure(error, { fameCode: error.fameCode, transport: false, notExecuted: true }, true);
}

export function cancelledError(): RpcError {
  return new RpcError(RpcErrorCode.SERVER_ERROR, "call cancelled by caller", FameRpcCode.CANCELLED);
}

function errorFromWire(error: RpcErrorObject): RpcError {
  return new RpcError(error.code, error.message, fameCodeOf(error));
}

export function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  try {
    return String(err);
  } catch {
    return "unknown error";
  }
}

function noop(): void {}
