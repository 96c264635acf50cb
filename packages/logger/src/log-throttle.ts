/**
 * Says whether the n-th event of a kind should be logged: the first few, then
 * one in `every`. A flood of refusals must not become a flood of log lines.
 */
export class LogThrottle {
  private count = 0;

  constructor(
    private readonly first = 5,
    private readonly every = 100,
  ) {}

  /** counts one event; true when this one should be logged */
  hit(): boolean {
    this.count++;
    return this.count <= this.first || this.count % this.every === 0;
  }

  get total(): number {
    return this.count;
  }
}

/**
 * LogThrottle over a window: the first few events of each minute (by default) are logged, then
 * one in `every`, so a flood from one client stays a handful of lines a minute and the next
 * refusal after a quiet spell is logged again. `total` counts every event since the start.
 */
export class WindowedLogThrottle {
  private inWindow = 0;
  private windowStart = 0;
  private count = 0;

  constructor(
    private readonly first = 5,
    private readonly every = 100,
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  hit(): boolean {
    const t = this.now();
    if (t - this.windowStart >= this.windowMs) {
      this.windowStart = t;
      this.inWindow = 0;
    }
    this.count++;
    this.inWindow++;
    return this.inWindow <= this.first || this.inWindow % this.every === 0;
  }

  get total(): number {
    return this.count;
  }
}
