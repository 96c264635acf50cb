import { ExpiringUseCounter } from "./use-counter.js";

/** Outcome of presenting a ticket to the guard. */
export type ReplayVerdict = "accepted" | "replayed" | "full";

export interface ReplayGuardOptions {
  /** hard bound on remembered tickets; default 100 000 */
  maxEntries?: number;
  /** kept past `exp` for as long as a verifier would still accept the token; default 30 s */
  clockToleranceSec?: number;
  /** ms clock; tests pin it */
  now?: () => number;
}

const VERDICTS = { ok: "accepted", exhausted: "replayed", full: "full" } as const;

/**
 * Single-use memory for attach tickets: a (jti, instance) pair is accepted once and remembered
 * until the ticket could no longer verify anyway. Bounded, and fails closed when full (see
 * ExpiringUseCounter).
 */
export class ReplayGuard {
  readonly #uses: ExpiringUseCounter;

  constructor(opts: ReplayGuardOptions = {}) {
    this.#uses = new ExpiringUseCounter({
      maxUses: 1,
      ...(opts.maxEntries !== undefined ? { maxEntries: opts.maxEntries } : {}),
      toleranceMs: (opts.clockToleranceSec ?? 30) * 1000,
      ...(opts.now ? { now: opts.now } : {}),
    });
  }

  /**
   * Records a ticket as used. `expSec` is its `exp` claim (seconds). A ticket already past
   * exp + tolerance is "accepted" without being stored: the verifier refuses it on its own.
   */
  consume(jti: string, instanceId: string, expSec: number): ReplayVerdict {
    return VERDICTS[this.#uses.use(key(jti, instanceId), expSec)];
  }

  /** true when the ticket was seen and is still remembered */
  has(jti: string, instanceId: string): boolean {
    return this.#uses.has(key(jti, instanceId));
  }

  get size(): number {
    return this.#uses.size;
  }

  clear(): void {
    this.#uses.clear();
  }
}

function key(jti: string, instanceId: string): string {
  return `${jti}\u0000${instanceId}`;
}
