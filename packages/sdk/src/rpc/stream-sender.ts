/**
 * Callee side of a streamed answer: pulls the operation's async iterator only while the caller
 * has credit, so a slow consumer pauses the producer instead of filling memory on either side.
 */
import { toJsonValue } from "./json-value.js";
import { encodeError, encodeStreamEnd, encodeStreamItem, type RpcId } from "./jsonrpc.js";
import { FameRpcCode, RpcErrorCode } from "./rpc-error.js";
import type { JsonObject } from "./transport.js";

export interface StreamSenderConfig {
  id: RpcId;
  window: number;
  iterator: AsyncIterator<unknown>;
  /** Send one message to the caller; resolves false when it could not be sent. */
  send(payload: JsonObject): boolean | Promise<boolean>;
  /** Turn an error thrown by the iterator into an error response. */
  errorPayload(err: unknown): JsonObject;
  /** Give up on a caller that grants no credit for this long. */
  creditTimeoutMs: number;
  /** Aborted (the operation's `ctx.signal`) on cancel or credit timeout. */
  /** aborted when the stream ends early (cancel, credit timeout) */
  abort: { abort(): void };
}

export class StreamSender {
  readonly #cfg: StreamSenderConfig;
  /** Items sent (= next seq). */
  #sent = 0;
  /** Items the caller acknowledged through credit messages. */
  #acked = 0;
  #cancelled = false;
  #wake: (() => void) | undefined;

  constructor(cfg: StreamSenderConfig) {
    this.#cfg = cfg;
  }

  /** The caller consumed `n` more items. */
  credit(n: number): void {
    // A caller cannot acknowledge items it was never sent; clamping keeps the window honest.
    this.#acked = Math.min(this.#acked + n, this.#sent);
    this.#wakeUp();
  }

  /** The caller stopped iterating (or the endpoint is closing). */
  cancel(): void {
    this.#cancelled = true;
    this.#cfg.abort.abort();
    this.#wakeUp();
  }

  /** Pump until the iterator ends, fails, or the stream is cancelled. Never rejects. */
  async run(): Promise<void> {
    const { id, window, iterator, send } = this.#cfg;
    let finished = false; // the iterator completed by itself: no return() needed
    try {
      while (!this.#cancelled) {
        if (this.#sent - this.#acked >= window) {
          if (!(await this.#waitForCredit())) {
            this.#cfg.abort.abort();
            if (!this.#cancelled) {
              await send(
                encodeError(
                  id,
                  RpcErrorCode.SERVER_ERROR,
                  "caller granted no stream credit in time",
                  FameRpcCode.TIMEOUT,
                ),
              );
            }
            break;
          }
          continue;
        }
        let step: IteratorResult<unknown>;
        try {
          step = await iterator.next();
        } catch (err) {
          finished = true;
          if (!this.#cancelled) await send(this.#cfg.errorPayload(err));
          break;
        }
        if (step.done === true) {
          finished = true;
          if (!this.#cancelled) await send(encodeStreamEnd(id, this.#sent));
          break;
        }
        if (this.#cancelled) break;
        const json = toJsonValue(step.value);
        if (!json.ok) {
          await send(
            encodeError(
              id,
              RpcErrorCode.INTERNAL_ERROR,
              `stream item is not JSON-serializable: ${json.reason}`,
            ),
          );
          break;
        }
        // Count the item before sending: the caller may consume it and grant credit before
        // our send() settles, and that credit must not be clamped away.
        const seq = this.#sent++;
        if (!(await send(encodeStreamItem(id, seq, json.value)))) {
          await send(encodeError(id, RpcErrorCode.INTERNAL_ERROR, "stream item could not be sent"));
          break;
        }
      }
    } finally {
      if (!finished) await closeIterator(iterator);
    }
    // A final answer after the caller's cancel: without one the call stays open at the sentinel
    // until its deadline, held against this replica as unanswered (outlier ejection).
    if (this.#cancelled) {
      try {
        await send(
          encodeError(id, RpcErrorCode.SERVER_ERROR, "stream cancelled by the caller", FameRpcCode.CANCELLED),
        );
      } catch {
        // the endpoint is closing: nobody is left to tell
      }
    }
  }

  #waitForCredit(): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve(false);
      }, this.#cfg.creditTimeoutMs);
      timer.unref?.();
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve(true);
      };
    });
  }

  #wakeUp(): void {
    this.#wake?.();
  }
}

/** Stop a generator early so its `finally` blocks run; its errors are not ours to surface. */
async function closeIterator(iterator: AsyncIterator<unknown>): Promise<void> {
  try {
    await iterator.return?.();
  } catch {
    // The stream is already over; a failing cleanup has nobody left to report to.
  }
}
