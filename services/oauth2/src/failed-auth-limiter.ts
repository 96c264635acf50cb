export interface FailedAuthLimiterOptions {
  /** failures allowed per key inside the window before refusing; default 10 */
  maxFailures?: number;
  /** default 60 s */
  windowMs?: number;
  /** bound on tracked keys (ids are attacker-chosen); default 10 000 */
  maxKeys?: number;
  now?: () => number;
}

interface Window {
  failures: number;
  resetAt: number;
}

/**
 * Slows secret guessing: after too many failed authentications for one key
 * (the token endpoint's is the source address and the client id), further
 * attempts for it are refused until the window passes.
 * Bounded: when full, the oldest tracked key is dropped (Map keeps insertion order).
 */
export class FailedAuthLimiter {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #maxKeys: number;
  readonly #now: () => number;
  readonly #windows = new Map<string, Window>();

  constructor(opts: FailedAuthLimiterOptions = {}) {
    this.#max = opts.maxFailures ?? 10;
    this.#windowMs = opts.windowMs ?? 60_000;
    this.#maxKeys = opts.maxKeys ?? 10_000;
    this.#now = opts.now ?? Date.now;
  }

  /** ms until attempts are allowed again, or 0 when allowed now */
  blockedFor(key: string): number {
    const w = this.#windows.get(key);
    if (!w) return 0;
    const now = this.#now();
    if (w.resetAt <= now) {
      this.#windows.delete(key);
      return 0;
    }
    return w.failures >= this.#max ? w.resetAt - now : 0;
  }

  recordFailure(key: string): void {
    const now = this.#now();
    const w = this.#windows.get(key);
    if (w && w.resetAt > now) {
      w.failures++;
      return;
    }
    this.#windows.delete(key);
    if (this.#windows.size >= this.#maxKeys) {
      const oldest = this.#windows.keys().next();
      if (!oldest.done) this.#windows.delete(oldest.value);
    }
    this.#windows.set(key, { failures: 1, resetAt: now + this.#windowMs });
  }

  recordSuccess(key: string): void {
    this.#windows.delete(key);
  }
}
