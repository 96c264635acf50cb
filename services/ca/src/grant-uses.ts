import { ExpiringUseCounter, type UseVerdict } from "@fame/identity";

/** Outcome of presenting a CA grant. */
export type GrantUseVerdict = UseVerdict;

/**
 * Counts how often each CA grant (by jti) was presented. A few uses are allowed so a node can
 * retry after a lost response, but a leaked grant cannot mint certificates at scale. Bounded,
 * forgetting grants once expired, and refusing new ones when full (see ExpiringUseCounter).
 */
export class GrantUseCounter {
  readonly #uses: ExpiringUseCounter;

  constructor(
    readonly maxUses = 3,
    readonly maxEntries = 100_000,
    readonly toleranceMs = 30_000,
    readonly now: () => number = Date.now,
  ) {
    this.#uses = new ExpiringUseCounter({ maxUses, maxEntries, toleranceMs, now });
  }

  use(jti: string, expSec: number): GrantUseVerdict {
    return this.#uses.use(jti, expSec);
  }

  get size(): number {
    return this.#uses.size;
  }
}
