export interface ReconnectSettings {
  initialDelayMs?: number;
  maxDelayMs?: number;
  maxAttempts?: number;
}

/** The waits between reattach attempts: exponential with jitter, bounded in count. */
export class ReconnectBackoff {
  private attempts = 0;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private holdOffMs = 0;
  private readonly initial: number;
  private readonly max: number;
  private readonly maxAttempts: number;

  constructor(settings: ReconnectSettings = {}) {
    this.initial = settings.initialDelayMs ?? 200;
    this.max = settings.maxDelayMs ?? 5000;
    this.maxAttempts = settings.maxAttempts ?? 1000;
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

  /** waits before the next attempt; cancel() ends the wait early */
  wait(): Promise<void> {
    const delay = Math.max(
      this.holdOffMs,
      Math.min(this.max, this.initial * 2 ** Math.min(this.attempts, 16)) * (0.5 + Math.random() / 2),
    );
    this.holdOffMs = 0;
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
