/** Outcome of presenting a CA grant. */
export type GrantUseVerdict = "ok" | "exhausted" | "full";

/**
 * Counts how often each CA grant (by jti) was presented. A few uses are allowed so a node can
 * retry after a lost response, but a leaked grant cannot mint certificates at scale. Entries
 * are forgotten once the grant has expired (plus tolerance); memory is bounded, and when full
 * of live grants new ones are refused rather than old ones forgotten (which would reopen reuse).
 */
export class GrantUseCounter {
  readonly #uses = new Map<string, { count: number; forgetAt: number }>();
  #nextSweepAt = 0;

  constructor(
    readonly maxUses = 3,
    readonly maxEntries = 100_000,
    readonly toleranceMs = 30_000,
    readonly now: () => number = Date.now,
  ) {}

  use(jti: string, expSec: number): GrantUseVerdict {
    const now = this.now();
    if (now >= this.#nextSweepAt || this.#uses.size >= this.maxEntries) this.#sweep(now);
    const entry = this.#uses.get(jti);
    if (entry && entry.forgetAt > now) {
      if (entry.count >= this.maxUses) return "exhausted";
      entry.count++;
      return "ok";
    }
    if (this.#uses.size >= this.maxEntries) return "full";
    this.#uses.set(jti, { count: 1, forgetAt: expSec * 1000 + this.toleranceMs });
    return "ok";
  }

  get size(): number {
    return this.#uses.size;
  }

  #sweep(now: number): void {
    for (const [jti, e] of this.#uses) if (e.forgetAt <= now) this.#uses.delete(jti);
    this.#nextSweepAt = now + 1000;
  }
}
