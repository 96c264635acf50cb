import { readInt } from "@fame/config";

/**
 * Bounds a service's expensive requests under a storm (the CA's signings, Welcome's
 * admissions): at most `maxActive` in progress, up to `maxQueued` waiting their turn, and
 * beyond that an answer at once telling the caller when to come back (its wait estimated from
 * how fast the queue has been draining), instead of piling work up until callers time out.
 *
 * Waiting is fair between principals (the key a caller enters with, e.g. its OAuth2 client id):
 * turns go round the principals that wait, and when the queue is full a newcomer pushes out the
 * newest waiter of the principal holding the most places, so one credential holder sending as
 * fast as it can gets its share and no more. No fastify here: a plain module any service can use.
 */
export interface WorkGateOptions {
  maxActive: number;
  maxQueued: number;
  now?: () => number;
}

export type GateEntry = { release: () => void } | { retryAfterSec: number };

/** longest hint given: a caller should come back within a few minutes at worst */
const MAX_RETRY_AFTER_SEC = 60;

type Settle = (entry: GateEntry) => void;

export class WorkGate {
  private active = 0;
  /** waiters per principal; the map's order is the round of turns (a served key moves last) */
  private readonly queues = new Map<string, Settle[]>();
  private total = 0;
  /** principals by how many places they hold, to find the longest queue in O(1) when full */
  private readonly byLength = new Map<number, Set<string>>();
  private longest = 0;
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
    return this.total;
  }

  /**
   * A turn (release it when done), or the seconds to wait when the queue is full, or when this
   * waiter was pushed out by another principal's newcomer. `key` names the principal.
   */
  enter(key = ""): Promise<GateEntry> {
    if (this.active < this.opts.maxActive) {
      this.active++;
      return Promise.resolve({ release: this.releaser() });
    }
    if (this.total >= this.opts.maxQueued && !this.pushOutFor(key)) {
      return Promise.resolve({ retryAfterSec: this.retryAfterSec() });
    }
    return new Promise<GateEntry>((settle) => {
      let queue = this.queues.get(key);
      if (queue === undefined) {
        queue = [];
        this.queues.set(key, queue);
      }
      queue.push(settle);
      this.total++;
      this.moved(key, queue.length - 1, queue.length);
    });
  }

  /** time for the queue ahead to drain at the recent rate, at least 1 s */
  retryAfterSec(): number {
    const ahead = this.total + this.active;
    const perMs = this.rate ?? 0;
    if (perMs <= 0) return 1;
    return Math.min(MAX_RETRY_AFTER_SEC, Math.max(1, Math.ceil(ahead / perMs / 1000)));
  }

  /**
   * Frees a place for `key` when another principal holds at least two more than it does: that
   * principal's newest waiter is told to come back later. Equal shares keep their places.
   */
  private pushOutFor(key: string): boolean {
    const mine = this.queues.get(key)?.length ?? 0;
    if (this.total === 0 || this.longest < mine + 2) return false;
    const victim = this.byLength.get(this.longest)?.values().next().value;
    if (victim === undefined) return false;
    const queue = this.queues.get(victim);
    const settle = queue?.pop();
    if (queue === undefined || settle === undefined) return false;
    this.removed(victim, queue);
    settle({ retryAfterSec: this.retryAfterSec() });
    return true;
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.recordCompletion();
      this.handOver();
    };
  }

  /** the turn just freed goes to the principal first in the round, `active` unchanged */
  private handOver(): void {
    const first = this.queues.entries().next();
    if (first.done === true) {
      this.active--;
      return;
    }
    const [key, queue] = first.value;
    // a principal's queue is dropped when it empties, so there is a waiter here
    const settle = queue.shift() as Settle;
    this.removed(key, queue);
    if (queue.length > 0) {
      // to the end of the round
      this.queues.delete(key);
      this.queues.set(key, queue);
    }
    settle({ release: this.releaser() });
  }

  private removed(key: string, queue: Settle[]): void {
    this.total--;
    this.moved(key, queue.length + 1, queue.length);
    if (queue.length === 0) this.queues.delete(key);
  }

  private moved(key: string, from: number, to: number): void {
    if (from > 0) {
      const set = this.byLength.get(from);
      set?.delete(key);
      if (set !== undefined && set.size === 0) this.byLength.delete(from);
    }
    if (to > 0) {
      let set = this.byLength.get(to);
      if (set === undefined) {
        set = new Set();
        this.byLength.set(to, set);
      }
      set.add(key);
    }
    if (to > this.longest) this.longest = to;
    else if (from === this.longest && !this.byLength.has(from)) this.longest = to;
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
