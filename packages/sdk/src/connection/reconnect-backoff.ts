import { ConnectionError } from "./connection-error.js";
export interface ReconnectSettings {
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** attempts before the node gives up on its sentinel; default unbounded (FAME_RECONNECT_MAX_ATTEMPTS) */
  maxAttempts?: number;
}

/** longest wait after a dial that found nothing listening (see quickRetry) */
export const QUICK_RETRY_MAX_MS = 1000;

/**
 * The waits between reattach attempts: exponential with jitter; unbounded in count unless told
 * (a node outlives any sentinel outage by default, as its operator would expect of a service).
 */
export class ReconnectBackoff {
  private attempts = 0;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private holdOffMs = 0;
  /** the next wait is capped at QUICK_RETRY_MAX_MS (nothing was listening: see quickRetry) */
  private quick = false;
  private readonly initial: number;
  private readonly max: number;
  private readonly maxAttempts: number;

  constructor(settings: ReconnectSettings = {}) {
    this.initial = settings.initialDelayMs ?? 200;
    this.max = settings.maxDelayMs ?? 5000;
    this.maxAttempts = settings.maxAttempts ?? Number.POSITIVE_INFINITY;
  }

  get attempt(): number {
    return this.attempts;
  }

  get exhausted(): boolean {
    return this.attempts >= this.maxAttempts;
  }

  /** the link is attached again: the next outage starts from the shortest wait */
  reset(): void {
    this.attempts = 0;
  }

  /**
   * A saturated service asked for `ms` of quiet (its retry_after): the next wait lasts at least
   * that, spread over up to half as much again so the nodes it refused do not return together.
   */
  holdOff(ms: number): void {
    this.holdOffMs = ms * (1 + Math.random() / 2);
  }

  /**
   * The last attempt found nothing listening (connection refused): it cost the sentinel nothing,
   * and the sentinel is most likely restarting. The next wait stays short (≤ QUICK_RETRY_MAX_MS,
   * spread as usual), so the node is back soon after the sentinel is, instead of sleeping up to
   * the full maximum past its return. Refusals that cost the other side work (a 429/503, a
   * timeout, a refused ticket) keep the doubling wait.
   */
  quickRetry(): void {
    this.quick = true;
  }

  /** waits before the next attempt; cancel() ends the wait early */
  wait(): Promise<void> {
    const cap = this.quick ? Math.min(this.max, QUICK_RETRY_MAX_MS) : this.max;
    const delay = Math.max(
      this.holdOffMs,
      Math.min(cap, this.initial * 2 ** Math.min(this.attempts, 16)) * (0.5 + Math.random() / 2),
    );
    this.holdOffMs = 0;
    this.quick = false;
    this.attempts++;
    // A referenced timer on purpose: a node waiting to reattach still has work to do, and
    // an unreferenced one would let a process whose only job is this link exit (code 0).
    return new Promise<void>((resolve) => {
      this.wake = resolve;
      this.timer = setTimeout(resolve, delay);
    }).finally(() => {
      this.wake = undefined;
    });
  }

  cancel(): void {
    clearTimeout(this.timer);
    this.wake?.();
  }
}

/** the dial was refused at TCP (no sentinel listening there yet, e.g. one restarting) */
export function nothingListening(err: unknown): boolean {
  if (!(err instanceof ConnectionError) || err.code !== "connect_failed") return false;
  const cause = err.cause as { code?: unknown } | undefined;
  return cause?.code === "ECONNREFUSED";
}

/**
 * The quiet a busy service asked for, in ms: the `retryAfterSec` an AdmissionError (Welcome or
 * the CA saturated) or a ConnectionError (the sentinel's 429/503) carries; undefined otherwise.
 */
export function busyWaitMs(err: unknown): number | undefined {
  const hint = (err as { retryAfterSec?: unknown } | undefined)?.retryAfterSec;
  return typeof hint === "number" ? hint * 1000 : undefined;
}
