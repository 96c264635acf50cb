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
