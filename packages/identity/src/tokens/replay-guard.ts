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

/**
 * Single-use memory for attach tickets: a (jti, instance) pair is accepted
 * once and remembered until the ticket could no longer verify anyway, so
 * memory is bounded by issuance rate × ticket lifetime. When full of live
 * entries it refuses new tickets instead of forgetting old ones: forgetting
 * would silently reopen a replay window.
 */
export class ReplayGuard {
  readonly #maxEntries: number;
  readonly #toleranceMs: number;
  readonly #now: () => number;
  /** key → forget-after (ms) */
  readonly #seen = new Map<string, number>();
  #nextSweepAt = 0;

  constructor(opts: ReplayGuardOptions = {}) {
    this.#maxEntries = opts.maxEntries ?? 100_000;
    if (!Number.isSafeInteger(this.#maxEntries) || this.#maxEntries < 1)
      throw new RangeError("maxEntries must be ≥ 1");
    this.#toleranceMs = (opts.clockToleranceSec ?? 30) * 1000;
    this.#now = opts.now ?? Date.now;
  }

  /**
   * Records a ticket as used. `expSec` is its `exp` claim (seconds). A ticket
   * already past exp + tolerance is "accepted" without being stored: the
   * verifier refuses it on its own, so there is nothing to remember.
   */
  consume(jti: string, instanceId: string, expSec: number): ReplayVerdict {
    const now = this.#now();
    const key = `${jti}\u0000${instanceId}`;
    const forgetAt = expSec * 1000 + this.#toleranceMs;
    const known = this.#seen.get(key);
    if (known !== undefined && known > now) return "replayed";
    if (now >= this.#nextSweepAt || this.#seen.size >= this.#maxEntries) this.#sweep(now);
    if (forgetAt <= now) return "accepted";
    if (this.#seen.size >= this.#maxEntries) return "full";
    this.#seen.set(key, forgetAt);
    return "accepted";
  }

  /** true when the ticket was seen and is still remembered */
  has(jti: string, instanceId: string): boolean {
    const at = this.#seen.get(`${jti}\u0000${instanceId}`);
    return at !== undefined && at > this.#now();
  }

  get size(): number {
    return this.#seen.size;
  }

  clear(): void {
    this.#seen.clear();
  }

  /** O(n), so run at most once a second or when full. */
  #sweep(now: number): void {
    for (const [key, at] of this.#seen) if (at <= now) this.#seen.delete(key);
    this.#nextSweepAt = now + 1000;
  }
}
