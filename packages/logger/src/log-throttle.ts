/**
 * Says whether the n-th event of a kind should be logged: the first few, then one in `every`.
 * A flood of refusals must not become a flood of log lines. With `windowMs` the count starts
 * again each window, so the next event after a quiet spell is logged again; `total` counts
 * every event since the start.
 */
export class LogThrottle {
  private inWindow = 0;
  private windowStart = 0;
  private count = 0;

  constructor(
    private readonly first = 5,
    private readonly every = 100,
    private readonly windowMs = Number.POSITIVE_INFINITY,
    private readonly now: () => number = Date.now,
  ) {}

  /** counts one event; true when this one should be logged */
  hit(): boolean {
    if (this.windowMs !== Number.POSITIVE_INFINITY) {
      const t = this.now();
      if (t - this.windowStart >= this.windowMs) {
        this.windowStart = t;
        this.inWindow = 0;
      }
    }
    this.count++;
    this.inWindow++;
    return this.inWindow <= this.first || this.inWindow % this.every === 0;
  }

  get total(): number {
    return this.count;
  }
}
