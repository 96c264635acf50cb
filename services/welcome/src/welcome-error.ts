import type { FastifyReply } from "fastify";

export type WelcomeErrorCode =
  | "invalid_token"
  | "insufficient_scope"
  | "logical_not_allowed"
  | "invalid_request"
  | "temporarily_unavailable";

/**
 * JSON error `{error, error_description}`; Bearer failures also carry an RFC 6750 challenge,
 * and a 503 that knows when to come back says so (`retry_after` seconds, and Retry-After).
 */
export function sendWelcomeError(
  reply: FastifyReply,
  status: number,
  error: WelcomeErrorCode,
  description: string,
  retryAfterSec?: number,
): FastifyReply {
  if (status === 401 || status === 403) {
    const challenge =
      error === "invalid_token" || error === "insufficient_scope"
        ? `Bearer realm="fame-welcome", error="${error}"`
        : 'Bearer realm="fame-welcome"';
    void reply.header("www-authenticate", challenge);
  }
  if (retryAfterSec !== undefined) void reply.header("retry-after", String(retryAfterSec));
  return reply
    .status(status)
    .header("cache-control", "no-store")
    .send({
      error,
      error_description: description,
      ...(retryAfterSec === undefined ? {} : { retry_after: retryAfterSec }),
    });
}
