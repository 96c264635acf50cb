/**
 * Keeps an attached session alive: beats every interval, and calls the sentinel silent when
 * nothing at all arrived from it for three intervals.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private lastHeard = 0;

  constructor(
    /** sends one Heartbeat (may throw when the link is already gone) */
    private readonly beat: () => void,
    /** the sentinel went quiet: drop the link */
    private readonly silent: () => void,
  ) {}

  start(intervalMs: number): void {
    this.stop();
    this.lastHeard = Date.now();
    this.timer = setInterval(() => {
      if (Date.now() - this.lastHeard > intervalMs * 3) {
        this.silent();
        return;
      }
      try {
        this.beat();
      } catch {
        // the link's close handler takes over
      }
    }, intervalMs);
    this.timer.unref();
  }

  /** something arrived from the sentinel */
  heard(): void {
    this.lastHeard = Date.now();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
