import { readInt } from "@fame/config";

/**
 * Bounds a service's expensive requests under a storm (the CA's signings, Welcome's
 * admissions): at most `maxActive` in progress, up to `maxQueued` waiting their turn, and
 * beyond that an answer at once telling the caller when to come back (its wait estimated from
 * how fast the queue has been draining), instead of piling work up until callers time out.
 * No fastify here: a plain module any service can use.
 */
export interface WorkGateOptions {
  maxActive: number;
  maxQueued: number;
  now?: () => number;
}

export type GateEntry = { release: () => void } | { retryAfterSec: number };

/** longest hint given: a caller should come back within a few minutes at worst */
const MAX_RETRY_AFTER_SEC = 60;

export class WorkGate {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly now: () => number;
  /** completions per ms, smoothed; undefined until the first completion */
  private rate: number | undefined;
  private lastDoneAt: number | undefined;

  constructor(private readonly opts: WorkGateOptions) {
    this.now = opts.now ?? Date.now;
  }

  get inProgress(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** a turn (release it when done), or the seconds to wait when the queue is full */
  async enter(): Promise<GateEntry> {
    if (this.active < this.opts.maxActive) {
      this.active++;
      return { release: this.releaser() };
    }
    if (this.waiting.length >= this.opts.maxQueued) return { retryAfterSec: this.retryAfterSec() };
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    // the turn was handed over by release(): `active` already counts it
    return { release: this.releaser() };
  }

  /** time for the queue ahead to drain at the recent rate, at least 1 s */
  retryAfterSec(): number {
    const ahead = this.waiting.length + this.active;
    const perMs = this.rate ?? 0;
    if (perMs <= 0) return 1;
    return Math.min(MAX_RETRY_AFTER_SEC, Math.max(1, Math.ceil(ahead / perMs / 1000)));
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.recordCompletion();
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    };
  }

  private recordCompletion(): void {
    const t = this.now();
    if (this.lastDoneAt !== undefined) {
      const gap = Math.max(1, t - this.lastDoneAt);
      const sample = 1 / gap;
      this.rate = this.rate === undefined ? sample : this.rate * 0.8 + sample * 0.2;
    }
    this.lastDoneAt = t;
  }
}

/**
 * A gate's two settings from the environment: `active` turns in progress (1 … 1024) and
 * `queued` waiting (0 … 100 000), each named in the ConfigError of a bad value.
 */
export function workGateFromEnv(
  env: NodeJS.ProcessEnv,
  names: { active: string; queued: string },
  defaults: WorkGateOptions,
): { maxActive: number; maxQueued: number } {
  return {
    maxActive: readInt(env[names.active], names.active, { fallback: defaults.maxActive, min: 1, max: 1024 }),
    maxQueued: readInt(env[names.queued], names.queued, {
      fallback: defaults.maxQueued,
      min: 0,
      max: 100_000,
    }),
  };
}
