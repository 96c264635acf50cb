/** The admission step that failed: fetching a token, Welcome's hello, making the CSR, CA signing, checking the result. */
export type AdmissionStep = "token" | "hello" | "csr" | "sign" | "verify";

/**
 * The longest wait a busy service's retry_after (or Retry-After) is believed for: a node should
 * not sleep for hours on one answer. Admission and the SDK's sentinel link clamp to it alike.
 */
export const RETRY_AFTER_MAX_SEC = 300;

/**
 * A failed admission. `code` is the server's RFC 6749 / JSON error code when
 * it sent one (`invalid_client`, `logical_not_allowed`, ...), else a local
 * one: `timeout`, `network`, `bad_response`, `http_<status>`, or the PKI's code.
 */
export class AdmissionError extends Error {
  /** a saturated service's `retry_after` (seconds): come back no sooner */
  readonly retryAfterSec?: number;
  constructor(
    readonly step: AdmissionStep,
    readonly code: string,
    message: string,
    readonly status?: number,
    options?: { cause?: unknown; retryAfterSec?: number },
  ) {
    super(`${step}: ${message}`, options);
    if (options?.retryAfterSec !== undefined) this.retryAfterSec = options.retryAfterSec;
    this.name = "AdmissionError";
  }
}
