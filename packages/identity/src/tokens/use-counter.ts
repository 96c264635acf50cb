/** Outcome of presenting a token to an ExpiringUseCounter. */
export type UseVerdict = "ok" | "exhausted" | "full";

export interface ExpiringUseCounterOptions {
  /** presentations allowed per key while it is remembered; default 1 */
  maxUses?: number;
  /** hard bound on remembered keys; default 100 000 */
  maxEntries?: number;
  /** kept past `exp` for as long as a verifier would still accept the token; default 30 000 ms */
  toleranceMs?: number;
  /** ms clock; tests pin it */
  now?: () => number;
}

/**
 * Counts presentations of short-lived tokens (attach tickets, CA grants) by key. A key is
 * remembered until its token could no longer verify anyway, so memory is bounded by issuance
 * rate × token lifetime. When full of live entries it refuses new keys instead of forgetting
 * old ones: forgetting would silently reopen reuse.
 */
export class ExpiringUseCounter {
  readonly #maxUses: number;
  readonly #maxEntries: number;
  readonly #toleranceMs: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, { count: number; forgetAt: number }>();
  #nextSweepAt = 0;

  constructor(opts: ExpiringUseCounterOptions = {}) {
    this.#maxUses = opts.maxUses ?? 1;
    this.#maxEntries = opts.maxEntries ?? 100_000;
    if (!Number.isSafeInteger(this.#maxUses) || this.#maxUses < 1)
      throw new RangeError("maxUses must be ≥ 1");
    if (!Number.isSafeInteger(this.#maxEntries) || this.#maxEntries < 1)
      throw new RangeError("maxEntries must be ≥ 1");
    this.#toleranceMs = opts.toleranceMs ?? 30_000;
    this.#now = opts.now ?? Date.now;
  }

  /**
   * Records one presentation of the token `key` whose `exp` claim is `expSec`. A token already
   * past exp + tolerance is "ok" without being stored: the verifier refuses it on its own.
   */
  use(key: string, expSec: number): UseVerdict {
    const now = this.#now();
    const known = this.#entries.get(key);
    if (known !== undefined && known.forgetAt > now) {
      if (known.count >= this.#maxUses) return "exhausted";
      known.count++;
      return "ok";
    }
    if (now >= this.#nextSweepAt || this.#entries.size >= this.#maxEntries) this.#sweep(now);
    const forgetAt = expSec * 1000 + this.#toleranceMs;
    if (forgetAt <= now) return "ok";
    if (this.#entries.size >= this.#maxEntries) return "full";
    this.#entries.set(key, { count: 1, forgetAt });
    return "ok";
  }

  /** true when the key was presented and is still remembered */
  has(key: string): boolean {
    const e = this.#entries.get(key);
    return e !== undefined && e.forgetAt > this.#now();
  }

  get size(): number {
    return this.#entries.size;
  }

  clear(): void {
    this.#entries.clear();
  }

  /** O(n), so run at most once a second or when full. */
  #sweep(now: number): void {
    for (const [key, e] of this.#entries) if (e.forgetAt <= now) this.#entries.delete(key);
    this.#nextSweepAt = now + 1000;
  }
}
