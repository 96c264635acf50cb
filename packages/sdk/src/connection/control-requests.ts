import type { Envelope } from "@fame/protocol";
import { ConnectionError } from "./connection-error.js";

interface Waiter {
  resolve(env: Envelope): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * The node's control requests to its sentinel (attach, bind, key request) waiting for their
 * answer, which names the request's id as its corrId.
 */
export class ControlRequests {
  private readonly waiters = new Map<string, Waiter>();

  constructor(private readonly timeoutMs: number) {}

  /** the answer to request `id`; rejects after the control timeout */
  answerTo(id: string): Promise<Envelope> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(id);
        reject(new ConnectionError("timeout", `no answer from the sentinel in ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.waiters.set(id, { resolve, reject, timer });
    });
  }

  /** hands `env` to the request it answers; false when no request waits for it */
  settle(env: Envelope): boolean {
    const corrId = env.corrId;
    const w = corrId ? this.waiters.get(corrId) : undefined;
    if (!w) return false;
    clearTimeout(w.timer);
    this.waiters.delete(corrId!);
    w.resolve(env);
    return true;
  }

  /** no answer can come any more (the link is gone) */
  rejectAll(err: ConnectionError): void {
    for (const w of this.waiters.values()) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.waiters.clear();
  }
}
