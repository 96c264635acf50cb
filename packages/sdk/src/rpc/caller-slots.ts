/**
 * How many of one agent's call slots each caller holds, so no single caller can take them
 * all (a stream it never reads holds its slot until the credit timeout); a replica's channel
 * table counts the channels of each client and principal with it too. One map entry per
 * holder, updated in place and removed at zero: bounded by what is held.
 */
export class CallerSlots {
  readonly #held = new Map<string, number>();

  /** calls `caller` holds now */
  heldBy(caller: string): number {
    return this.#held.get(caller) ?? 0;
  }

  /** callers holding at least one slot */
  get callers(): number {
    return this.#held.size;
  }

  /** takes a slot for `caller` unless it already holds `limit`; O(1) */
  tryTake(caller: string, limit: number): boolean {
    if (this.heldBy(caller) >= limit) return false;
    this.take(caller);
    return true;
  }

  /** takes a slot for `caller`, its limit checked by the caller of this */
  take(caller: string): void {
    this.#held.set(caller, this.heldBy(caller) + 1);
  }

  give(caller: string): void {
    const n = this.#held.get(caller);
    if (n === undefined) return;
    if (n <= 1) this.#held.delete(caller);
    else this.#held.set(caller, n - 1);
  }
}

/** A caller's share of an agent's slots, as a call limit: never below 1, never above all. */
export function callerLimit(maxInflight: number, share: number): number {
  return Math.min(maxInflight, Math.max(1, Math.floor(maxInflight * share)));
}
