/**
 * Why a token was refused. Stable strings: services map them to HTTP answers
 * and tests assert on them, so they never carry token contents.
 */
export type TokenErrorCode =
  | "token_invalid"
  | "token_expired"
  | "token_not_yet_valid"
  | "token_wrong_audience"
  | "token_wrong_issuer"
  | "token_wrong_type"
  | "token_missing_scope"
  | "token_replayed"
  | "token_keys_unavailable";

export class TokenError extends Error {
  constructor(
    readonly code: TokenErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "TokenError";
  }
}

export function isTokenError(err: unknown): err is TokenError {
  return err instanceof TokenError;
}
