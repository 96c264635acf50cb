/**
 * The per-connection frame-rate limit (FAME_MAX_FRAMES_PER_SEC, FAME_FRAME_BURST): a token
 * bucket per attached (or attaching) connection, checked before a frame is even parsed, so
 * a flood costs the sentinel one clock read and a few arithmetic operations per frame.
 *
 * The bucket's state lives on the session (`FrameBucket`, allocated once per connection);
 * the limiter holds only the settings. Checking a frame allocates nothing.
 *
 * What a refused frame gets (decided here, documented in README and docs/security.md):
 * - it is dropped, unparsed, and counted;
 * - the first refusal of a connection is answered with a `rate_limited` nack, then one in
 *   every `NACK_EVERY` refusals: answering every refused frame would let the flood turn the
 *   sentinel into its amplifier;
 * - a connection that keeps sending far above its rate is closed (1008, "rate_limited"):
 *   each refused frame adds a strike and each admitted frame takes one away, so a client
 *   slightly over its rate never accumulates strikes while a flood reaches the bound
 *   (ten seconds' worth of its allowance, at least ten bursts) within seconds.
 */

/** one connection's bucket; the limiter fills it to the burst at its first frame */
export class FrameBucket {
  /** tokens left (fractional); starts above any burst and is clamped on first use */
  tokens = Number.POSITIVE_INFINITY;
  /** ms timestamp of the last refill */
  at = 0;
  /** refused minus admitted frames since the last time this was zero (never below zero) */
  strikes = 0;
  /** frames refused over the connection's life */
  refused = 0;
}

/** admit the frame */
export const FRAME_OK = 0;
/** refuse silently (counted) */
export const FRAME_DROP = 1;
/** refuse and answer with a rate_limited nack */
export const FRAME_NACK = 2;
/** refuse and close the connection: sustained abuse */
export const FRAME_CLOSE = 3;
export type FrameVerdict = typeof FRAME_OK | typeof FRAME_DROP | typeof FRAME_NACK | typeof FRAME_CLOSE;

/** one nack per this many refused frames of a connection (the first is always answered) */
export const NACK_EVERY = 1000;

export interface FrameRateSettings {
  /** frames per second a connection may send, sustained */
  perSec: number;
  /** frames it may send at once above that (the bucket's size) */
  burst: number;
}

export class FrameRateLimiter {
  readonly perSec: number;
  readonly burst: number;
  /** strikes at which a connection is closed */
  readonly closeAfter: number;
  private readonly perMs: number;

  constructor(settings: FrameRateSettings) {
    if (!(settings.perSec > 0) || !Number.isFinite(settings.perSec))
      throw new RangeError("perSec must be a positive number");
    if (!(settings.burst >= 1) || !Number.isFinite(settings.burst))
      throw new RangeError("burst must be at least 1");
    this.perSec = settings.perSec;
    this.burst = settings.burst;
    this.perMs = settings.perSec / 1000;
    this.closeAfter = 10 * Math.max(settings.perSec, settings.burst);
  }

  /** takes one token from `b` at time `now` (ms); O(1), no allocation */
  admit(b: FrameBucket, now: number): FrameVerdict {
    let tokens = b.tokens;
    if (now > b.at) {
      tokens += (now - b.at) * this.perMs;
      b.at = now;
    }
    if (tokens > this.burst) tokens = this.burst;
    if (tokens >= 1) {
      b.tokens = tokens - 1;
      if (b.strikes > 0) b.strikes--;
      return FRAME_OK;
    }
    b.tokens = tokens;
    b.refused++;
    if (++b.strikes >= this.closeAfter) return FRAME_CLOSE;
    return (b.refused - 1) % NACK_EVERY === 0 ? FRAME_NACK : FRAME_DROP;
  }
}
