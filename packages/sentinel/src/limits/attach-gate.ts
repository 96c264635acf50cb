import { LIMIT_DEFAULTS } from "./defaults.js";
import { remoteKey } from "./remote-key.js";
import { TokenBucketLimiter } from "./token-bucket.js";

export interface AttachGateOptions {
  /** WebSocket upgrades allowed per remote IP per minute (also the burst) */
  ratePerMin: number;
  /** connections still attaching, at most, across all remotes */
  maxPending: number;
  /** … and from one remote IP (IPv6: /64) */
  maxPendingPerIp: number;
  maxTrackedIps?: number;
  now?: () => number;
}

export type GateVerdict =
  | { ok: true; key: string }
  | {
      ok: false;
      key: string;
      /** 429 for the per-IP rate, 503 when too many connections are still attaching */
      status: 429 | 503;
      reason: string;
      retryAfterSec: number;
    };

/**
 * Decides, before the WebSocket upgrade, whether a new connection may try to
 * attach: refusing at the HTTP layer costs no session, no timer and no frame
 * parsing, which is what makes a flood cheap to absorb.
 */
export class AttachGate {
  private readonly limiter: TokenBucketLimiter;
  private readonly maxPending: number;
  private readonly maxPendingPerIp: number;

  constructor(opts: AttachGateOptions) {
    this.limiter = new TokenBucketLimiter({
      ratePerMin: opts.ratePerMin,
      maxKeys: opts.maxTrackedIps ?? LIMIT_DEFAULTS.attachRateTrackedIps,
      ...(opts.now ? { now: opts.now } : {}),
    });
    if (!Number.isInteger(opts.maxPending) || opts.maxPending < 1)
      throw new RangeError("maxPending must be a positive integer");
    this.maxPending = opts.maxPending;
    if (!Number.isInteger(opts.maxPendingPerIp) || opts.maxPendingPerIp < 1)
      throw new RangeError("maxPendingPerIp must be a positive integer");
    this.maxPendingPerIp = opts.maxPendingPerIp;
  }

  /** remote IPs being tracked (bounded) */
  get trackedIps(): number {
    return this.limiter.size;
  }

  /** `pending`: connections currently open and not yet attached, in total and per remote key */
  check(
    remoteAddress: string | undefined,
    pending: { total: number; from(key: string): number },
  ): GateVerdict {
    const key = remoteKey(remoteAddress);
    // The pending caps are checked first and spend no token.
    const fromKey = pending.from(key);
    if (fromKey >= this.maxPendingPerIp) {
      return {
        ok: false,
        key,
        status: 429,
        reason: `${fromKey} connections from ${key} are still attaching (limit ${this.maxPendingPerIp})`,
        retryAfterSec: 1,
      };
    }
    if (pending.total >= this.maxPending) {
      return {
        ok: false,
        key,
        status: 503,
        reason: `${pending.total} connections are still attaching (limit ${this.maxPending})`,
        retryAfterSec: 1,
      };
    }
    if (!this.limiter.tryTake(key)) {
      return {
        ok: false,
        key,
        status: 429,
        reason: `more than ${this.limiter.ratePerMin} attach attempts per minute from ${key}`,
        retryAfterSec: Math.max(1, Math.ceil(this.limiter.retryAfterMs(key) / 1000)),
      };
    }
    return { ok: true, key };
  }
}
