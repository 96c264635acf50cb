/**
 * Caller side of a streamed answer: buffers items the callee pushed ahead, hands them to the
 * consumer in order, and returns credit as the consumer pulls so the callee may continue.
 *
 * The buffer is bounded by the credit window the caller offered: a callee that sends more than
 * it was granted is cut off rather than allowed to grow our memory.
 */
import { encodeStreamCancel, encodeStreamCredit, type RpcId } from "./jsonrpc.js";
import { FameRpcCode, RpcError, RpcErrorCode } from "./rpc-error.js";
import type { JsonObject, JsonValue } from "./transport.js";

/** What a stream needs from the client that owns the call. */
export interface StreamHost {
  /** Send a credit or cancel message to the callee; failures are the host's to report. */
  sendControl(payload: JsonObject): void;
  /** The call is over on the wire: forget its correlation id. */
  release(): void;
}

export interface StreamConfig {
  id: RpcId;
  window: number;
  /** How long a waiting consumer tolerates silence from the callee. */
  idleTimeoutMs: number;
  method: string;
  host: StreamHost;
}

type Waiter = { resolve: (r: IteratorResult<JsonValue>) => void; reject: (e: unknown) => void };

/**
 * Receives wire events for one call. Kept apart from `RpcStream` so consumers only see the
 * iterator protocol and cannot inject items.
 */
export class StreamReceiver {
  readonly stream: RpcStream;
  readonly #cfg: StreamConfig;
  readonly #buffer: JsonValue[] = [];
  readonly #waiters: Waiter[] = [];
  /** Next sequence number expected from the callee (= items received). */
  #nextSeq = 0;
  #consumed = 0;
  /** Items acknowledged to the callee through credit messages. */
  #acked = 0;
  #state: "open" | "ended" | "failed" | "closed" = "open";
  #error: RpcError | undefined;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #creditBatch: number;

  constructor(cfg: StreamConfig) {
    this.#cfg = cfg;
    // Crediting every window/2 items keeps the callee busy without a message per item.
    this.#creditBatch = Math.max(1, Math.floor(cfg.window / 2));
    this.stream = new RpcStream(this);
  }

  get isOpen(): boolean {
    return this.#state === "open";
  }

  onItem(seq: number, value: JsonValue): void {
    if (this.#state !== "open") return;
    if (seq < this.#nextSeq) return; // duplicate of something already delivered
    if (seq > this.#nextSeq) {
      this.#violation(`stream item seq ${seq} skips ${this.#nextSeq}`);
      return;
    }
    if (this.#nextSeq - this.#acked >= this.#cfg.window) {
      this.#violation("callee sent more stream items than it had credit for");
      return;
    }
    this.#nextSeq++;
    this.#clearIdle();
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      this.#consumeOne();
      waiter.resolve({ value, done: false });
    } else {
      this.#buffer.push(value);
    }
    this.#armIdleIfWaiting();
  }

  onEnd(seq: number): void {
    if (this.#state !== "open") return;
    if (seq !== this.#nextSeq) {
      this.#violation(`stream ended at seq ${seq} but ${this.#nextSeq} items arrived`);
      return;
    }
    this.#state = "ended";
    this.#finishWire();
  }

  /** Terminal failure; items already buffered are still delivered before the error. */
  fail(error: RpcError): void {
    if (this.#state !== "open") return;
    this.#state = "failed";
    this.#error = error;
    this.#finishWire();
  }

  next(): Promise<IteratorResult<JsonValue>> {
    const value = this.#buffer.shift();
    if (value !== undefined) {
      this.#consumeOne();
      return Promise.resolve({ value, done: false });
    }
    if (this.#state === "failed") {
      const err = this.#error;
      this.#state = "closed"; // an iterator reports its error once, then is done
      return Promise.reject(err);
    }
    if (this.#state !== "open") return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.#armIdleIfWaiting();
    });
  }

  /**
   * The caller gave up (its AbortSignal fired): the callee stops its generator, and the
   * consumer gets what was already buffered, then `error`.
   */
  cancel(error: RpcError): void {
    if (this.#state !== "open") return;
    this.#cfg.host.sendControl(encodeStreamCancel(this.#cfg.id));
    this.fail(error);
  }

  /** The consumer stopped (break/return/throw): tell the callee to stop its generator. */
  close(): Promise<IteratorResult<JsonValue>> {
    if (this.#state === "open") this.#cfg.host.sendControl(encodeStreamCancel(this.#cfg.id));
    const wasOpen = this.#state === "open";
    this.#state = "closed";
    this.#buffer.length = 0;
    if (wasOpen) this.#finishWire();
    return Promise.resolve({ value: undefined, done: true });
  }

  #consumeOne(): void {
    this.#consumed++;
    const owed = this.#consumed - this.#acked;
    if (this.#state === "open" && owed >= this.#creditBatch) {
      this.#acked = this.#consumed;
      this.#cfg.host.sendControl(encodeStreamCredit(this.#cfg.id, owed));
    }
  }

  #violation(reason: string): void {
    this.#cfg.host.sendControl(encodeStreamCancel(this.#cfg.id));
    this.fail(new RpcError(RpcErrorCode.SERVER_ERROR, reason, FameRpcCode.BAD_MESSAGE));
  }

  /** No more wire traffic for this call: settle waiters (the buffer is empty when any wait). */
  #finishWire(): void {
    this.#clearIdle();
    this.#cfg.host.release();
    const waiters = this.#waiters.splice(0);
    for (const w of waiters) {
      if (this.#state === "failed") {
        this.#state = "closed";
        w.reject(this.#error);
      } else {
        w.resolve({ value: undefined, done: true });
      }
    }
  }

  #armIdleIfWaiting(): void {
    if (this.#waiters.length === 0 || this.#idleTimer !== undefined || this.#state !== "open") return;
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      if (this.#state !== "open") return;
      this.#cfg.host.sendControl(encodeStreamCancel(this.#cfg.id));
      this.fail(
        new RpcError(
          RpcErrorCode.SERVER_ERROR,
          `stream from ${this.#cfg.method} idle for ${this.#cfg.idleTimeoutMs} ms`,
          FameRpcCode.TIMEOUT,
        ),
      );
    }, this.#cfg.idleTimeoutMs);
    this.#idleTimer.unref?.();
  }

  #clearIdle(): void {
    if (this.#idleTimer === undefined) return;
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }
}

/**
 * A streamed answer, as handed to the caller: a single-use async iterator. Leaving a
 * `for await` loop early (break, return, throw) cancels the stream at the callee.
 */
export class RpcStream<T = JsonValue> implements AsyncIterableIterator<T> {
  readonly #receiver: StreamReceiver;

  /** @internal Created by the RPC client only. */
  constructor(receiver: StreamReceiver) {
    this.#receiver = receiver;
  }

  next(): Promise<IteratorResult<T>> {
    return this.#receiver.next() as Promise<IteratorResult<T>>;
  }

  return(): Promise<IteratorResult<T>> {
    return this.#receiver.close() as Promise<IteratorResult<T>>;
  }

  async throw(err?: unknown): Promise<IteratorResult<T>> {
    await this.#receiver.close();
    throw err;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

export function isRpcStream(value: unknown): value is RpcStream {
  return value instanceof RpcStream;
}
