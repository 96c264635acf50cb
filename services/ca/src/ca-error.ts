import type { CsrErrorCode } from "@fame/identity";
import type { FastifyReply } from "fastify";

/** Error codes the sign endpoint answers with, beyond the CSR ones. */
export type CaErrorCode =
  | CsrErrorCode
  | "invalid_request"
  | "invalid_token"
  | "temporarily_unavailable"
  | "internal_error";

export class CaError extends Error {
  override readonly name = "CaError";
  constructor(
    readonly status: number,
    readonly code: CaErrorCode,
    message: string,
    /** a 503 that knows when to come back: seconds, as Retry-After and `retry_after` */
    readonly retryAfterSec?: number,
  ) {
    super(message);
  }
}

/** CSR defects are the caller's malformed input (400); identity mismatches are authorisation refusals (403). */
export function csrStatus(code: CsrErrorCode): number {
  switch (code) {
    case "csr_identity_mismatch":
    case "csr_sid_mismatch":
    case "csr_path_mismatch":
    case "csr_logical_not_granted":
    case "csr_principal_mismatch":
      return 403;
    default:
      return 400;
  }
}

export function sendCaError(reply: FastifyReply, err: CaError): FastifyReply {
  if (err.status === 401) reply.header("www-authenticate", `Bearer error="invalid_token"`);
  if (err.retryAfterSec !== undefined) reply.header("retry-after", String(err.retryAfterSec));
  return reply.status(err.status).send({
    error: err.code,
    error_description: err.message,
    ...(err.retryAfterSec === undefined ? {} : { retry_after: err.retryAfterSec }),
  });
}
