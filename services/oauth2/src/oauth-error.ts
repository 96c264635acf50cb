import type { FastifyReply } from "fastify";

/** RFC 6749 §5.2 error codes used by the token endpoint. */
export type OAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "invalid_scope"
  | "temporarily_unavailable";

export class OAuthError extends Error {
  constructor(
    readonly code: OAuthErrorCode,
    readonly description: string,
    readonly status = code === "invalid_client" ? 401 : 400,
    /** extra response headers (WWW-Authenticate, Retry-After) */
    readonly headers: Record<string, string> = {},
  ) {
    super(description);
    this.name = "OAuthError";
  }
}

export function sendOAuthError(reply: FastifyReply, err: OAuthError): FastifyReply {
  return reply
    .status(err.status)
    .headers({ "cache-control": "no-store", pragma: "no-cache", ...err.headers })
    .send({ error: err.code, error_description: err.description });
}
