import type { Logger } from "@fame/logger";
import { admitNode } from "./admit-node.js";
import type { Admission, AdmitNodeOptions } from "./types.js";

export interface CertificateRenewerOptions {
  /** the admission whose certificate is being kept fresh */
  current: Admission;
  /** obtains a new admission; default: admitNode(admission) */
  renew?: () => Promise<Admission>;
  /** used by the default `renew` */
  admission?: AdmitNodeOptions;
  /** receives every new admission (a failure inside it is logged, not retried) */
  onRenewed: (next: Admission) => void | Promise<void>;
  /** told about every failed attempt; renewal keeps retrying regardless */
  onError?: (err: unknown, attempt: number) => void;
  /** spread of the renewal point, as a fraction of the lifetime around its middle; default 0.1 (45–55 %) */
  jitter?: number;
  /** first retry delay; doubles per failure up to maxBackoffMs. Defaults 1 s and 60 s */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  logger?: Logger;
  /** test seams */
  now?: () => number;
  random?: () => number;
}

/** setTimeout's ceiling (~24.8 days); longer waits are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Renews a node's certificate at about half its lifetime: late enough not to
 * churn, early enough that several retries fit before expiry. The point is
 * jittered so a fleet admitted together does not renew together. Timers are
 * unref'd: a renewer never keeps a process alive on its own.
 */
export class CertificateRenewer {
  #current: Admission;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #stopped = true;
  #failures = 0;
  #nextAttemptAt: number | undefined;
  readonly #renew: () => Promise<Admission>;
  readonly #opts: CertificateRenewerOptions;
  readonly #now: () => number;
  readonly #random: () => number;

  constructor(opts: CertificateRenewerOptions) {
    if (!opts.renew && !opts.admission) throw new TypeError("CertificateRenewer needs renew or admission");
    const admission = opts.admission;
    this.#renew = opts.renew ?? (() => admitNode(admission as AdmitNodeOptions));
    this.#opts = opts;
    this.#current = opts.current;
    this.#now = opts.now ?? Date.now;
    this.#random = opts.random ?? Math.random;
  }

  get current(): Admission {
    return this.#current;
  }

  /** when the next attempt is due (ms since epoch), or undefined when stopped */
  get nextAttemptAt(): number | undefined {
    return this.#nextAttemptAt;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#schedule(this.#renewalPoint(this.#current));
  }

  stop(): void {
    this.#stopped = true;
    this.#nextAttemptAt = undefined;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Renews now (outside the schedule); the schedule then follows the new certificate. */
  async renewNow(): Promise<Admission> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    return this.#attempt(true);
  }

  #renewalPoint(a: Admission): number {
    const from = a.notBefore.getTime();
    const lifetime = Math.max(0, a.notAfter.getTime() - from);
    const jitter = Math.min(Math.max(this.#opts.jitter ?? 0.1, 0), 0.9);
    return from + lifetime * (0.5 + jitter * (this.#random() - 0.5));
  }

  #schedule(at: number): void {
    if (this.#stopped) return;
    // A renewal that was in flight across stop() + start() finds start's timer already set.
    if (this.#timer) clearTimeout(this.#timer);
    this.#nextAttemptAt = at;
    const delay = Math.max(0, at - this.#now());
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        if (delay > MAX_TIMER_MS) this.#schedule(at);
        else void this.#attempt(false).catch(() => undefined);
      },
      Math.min(delay, MAX_TIMER_MS),
    );
    this.#timer.unref();
  }

  async #attempt(rethrow: boolean): Promise<Admission> {
    if (this.#running) throw new Error("a renewal is already running");
    this.#running = true;
    const log = this.#opts.logger;
    try {
      const next = await this.#renew();
      this.#failures = 0;
      if (this.#stopped && !rethrow) return next;
      this.#current = next;
      log?.info({ system_id: next.systemId, not_after: next.notAfter.toISOString() }, "certificate renewed");
      try {
        await this.#opts.onRenewed(next);
      } catch (err) {
        log?.error({ err }, "onRenewed callback failed");
      }
      this.#schedule(this.#renewalPoint(next));
      return next;
    } catch (err) {
      this.#failures++;
      const attempt = this.#failures;
      const backoff = this.#backoff(attempt);
      log?.warn(
        {
          attempt,
          retry_in_ms: backoff,
          step: (err as { step?: string }).step,
          code: (err as { code?: string }).code,
        },
        "certificate renewal failed",
      );
      this.#opts.onError?.(err, attempt);
      this.#schedule(this.#now() + backoff);
      if (rethrow) throw err;
      return this.#current;
    } finally {
      this.#running = false;
    }
  }

  /** exponential, capped, ±20 % jitter so retries of many nodes spread out */
  #backoff(attempt: number): number {
    const min = this.#opts.minBackoffMs ?? 1000;
    const max = this.#opts.maxBackoffMs ?? 60_000;
    const base = Math.min(max, min * 2 ** Math.min(attempt - 1, 30));
    return Math.round(base * (0.8 + 0.4 * this.#random()));
  }
}
