/**
 * When and how often a failed call is re-sent.
 *
 * A resend is only safe when the failure proves the request never ran (or the operation is
 * idempotent); otherwise a retry could execute a side effect twice. Delays use exponential
 * backoff with full jitter so many callers failing together do not resend in lock-step.
 */
import { FameRpcCode } from "./rpc-error.js";

export interface RetryPolicy {
  /** Resends after the first attempt; 0 disables retrying. */
  maxRetries: number;
  initialDelayMs: number;
  factor: number;
  maxDelayMs: number;
  /**
   * Treat `no_route` as "not executed" and retry it. Off by default: a missing route is
   * usually permanent, but during a failover the new replica may bind a moment later.
   */
  retryNoRoute: boolean;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  maxRetries: 3,
  initialDelayMs: 100,
  factor: 2,
  maxDelayMs: 2000,
  retryNoRoute: false,
});

/** A retry policy value is out of range; `field` names it. */
export class RetryPolicyError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`retry policy ${field}: ${message}`);
    this.name = "RetryPolicyError";
    this.field = field;
  }
}

const MAX_TIMER_MS = 2_147_483_647; // setTimeout's ceiling
const MAX_RETRIES = 100;

/** Merge overrides into `base` (defaults unless given) and validate every field. */
export function resolveRetryPolicy(
  overrides?: Partial<RetryPolicy>,
  base: Readonly<RetryPolicy> = DEFAULT_RETRY_POLICY,
): Readonly<RetryPolicy> {
  if (overrides === undefined) return base;
  if (typeof overrides !== "object" || overrides === null) {
    throw new RetryPolicyError("policy", "must be an object");
  }
  for (const key of Object.keys(overrides)) {
    // Catches misspelt keys from untyped callers, which would otherwise be silently ignored.
    if (!Object.hasOwn(DEFAULT_RETRY_POLICY, key)) throw new RetryPolicyError(key, "unknown field");
  }
  const merged: RetryPolicy = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== undefined) (merged as unknown as Record<string, unknown>)[key] = value;
  }
  const { maxRetries, initialDelayMs, factor, maxDelayMs, retryNoRoute } = merged;
  if (!Number.isSafeInteger(maxRetries) || maxRetries < 0 || maxRetries > MAX_RETRIES) {
    throw new RetryPolicyError("maxRetries", `must be an integer in 0..${MAX_RETRIES}`);
  }
  checkDelay("initialDelayMs", initialDelayMs);
  checkDelay("maxDelayMs", maxDelayMs);
  if (typeof factor !== "number" || !Number.isFinite(factor) || factor < 1 || factor > 100) {
    throw new RetryPolicyError("factor", "must be a number in [1, 100]");
  }
  if (maxDelayMs < initialDelayMs) throw new RetryPolicyError("maxDelayMs", "must be >= initialDelayMs");
  if (typeof retryNoRoute !== "boolean") throw new RetryPolicyError("retryNoRoute", "must be a boolean");
  return Object.freeze(merged);
}

function checkDelay(field: string, value: unknown): void {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > MAX_TIMER_MS) {
    throw new RetryPolicyError(field, `must be a number in [0, ${MAX_TIMER_MS}]`);
  }
}

/** Upper bound of the delay before retry number `attempt` (0-based): min(max, initial·factor^attempt). */
export function backoffCapMs(policy: Readonly<RetryPolicy>, attempt: number): number {
  return Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** attempt);
}

/** Full jitter: uniform in [0, cap]. `random` must return [0, 1); anything else is clamped. */
export function backoffDelayMs(
  policy: Readonly<RetryPolicy>,
  attempt: number,
  random: () => number = Math.random,
): number {
  const r = random();
  const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0;
  return Math.floor(unit * backoffCapMs(policy, attempt));
}

/** How a call attempt failed, as far as the retry decision is concerned. */
export interface FailureInfo {
  fameCode: string | undefined;
  /** The failure came from the transport or a local timer, not from the callee's reply. */
  transport: boolean;
  /** The reporter knows the request was not delivered to user code. */
  notExecuted: boolean;
  /** The node re-attached moments ago: a `no_route` may only mean replicas are still re-binding. */
  settling?: boolean;
}

/** Codes worth retrying for an idempotent operation: the condition may be gone next time. */
const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  FameRpcCode.CHANNEL_UNKNOWN,
  FameRpcCode.REPLICA_UNAVAILABLE,
  FameRpcCode.NOT_ACTIVE,
  FameRpcCode.TIMEOUT,
  FameRpcCode.TOO_MANY_INFLIGHT,
  "no_free_replica",
  "rate_limited",
  "draining",
]);

/** Codes after which a resend counts as a failover (another channel or replica takes over). */
export const FAILOVER_CODES: ReadonlySet<string> = new Set([
  FameRpcCode.CHANNEL_UNKNOWN,
  "channel_conflict",
  FameRpcCode.REPLICA_UNAVAILABLE,
]);

/**
 * A `no_route` while the node settles after a reattach: retried without spending the call's
 * retry budget (the window bounds it), so a call made as a sentinel comes back waits for the
 * replicas to bind again instead of failing.
 */
export function settlingNoRoute(f: FailureInfo): boolean {
  return f.settling === true && f.transport && f.fameCode === FameRpcCode.NO_ROUTE;
}

/**
 * True when the request provably did not run, so resending cannot duplicate a side effect.
 * Only the fabric's word proves it (a nack, or a failure before the request left this node),
 * never a callee's answer: an operation that did its work and then failed calling on passes its
 * downstream's code up in its error (audit round 12: a non-idempotent call ran four times).
 */
export function provesNotExecuted(f: FailureInfo, policy: Readonly<RetryPolicy>): boolean {
  switch (f.fameCode) {
    case FameRpcCode.CHANNEL_UNKNOWN: // the sentinel could not decrypt/route into a channel
    case "channel_conflict": // the sentinel holds the channel id for another client: refused unrouted
    case FameRpcCode.NOT_ACTIVE: // the target refused before dispatching
    case "state_unavailable": // the sentinel refused new work it could not record, before forwarding
      return f.transport || f.notExecuted;
    case FameRpcCode.REPLICA_UNAVAILABLE: // only the connection layer knows if it was before delivery
    case "unknown_frame": // a batch of calls refused for a replica that takes none, before delivery
      return f.transport && f.notExecuted;
    case FameRpcCode.NO_ROUTE: // nothing was delivered; retried when asked, or while settling
      return (policy.retryNoRoute || f.settling === true) && f.transport;
    default:
      return false;
  }
}

export function shouldRetry(f: FailureInfo, idempotent: boolean, policy: Readonly<RetryPolicy>): boolean {
  if (f.fameCode === undefined) return false; // application errors are answers, not outages
  if (provesNotExecuted(f, policy)) return true;
  if (!idempotent) return false;
  if (f.fameCode === FameRpcCode.NO_ROUTE) return policy.retryNoRoute || f.settling === true;
  return TRANSIENT_CODES.has(f.fameCode);
}
