/** A failure of the node's link or session with its sentinel; `code` is a fame error code. */
export class ConnectionError extends Error {
  /** the other side is busy and asked for this much quiet before the next try (Retry-After) */
  readonly retryAfterSec?: number;

  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown; retryAfterSec?: number },
  ) {
    super(message, options);
    this.name = "ConnectionError";
    if (options?.retryAfterSec !== undefined) this.retryAfterSec = options.retryAfterSec;
  }
}
