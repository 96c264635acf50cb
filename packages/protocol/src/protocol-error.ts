import type { ErrorCode } from "./error-codes.js";

/** The only codes the codec itself raises; everything else is decided by higher layers. */
export type ProtocolErrorCode = Extract<ErrorCode, "bad_envelope" | "frame_too_large" | "unknown_frame">;

/**
 * The single error type thrown for bad input. `field` is a JSON path into the envelope
 * ("" for the whole text, "frame.keys[0].x" for a nested member) so a peer can be told
 * precisely what was wrong without echoing untrusted content back.
 */
export class ProtocolError extends Error {
  override readonly name = "ProtocolError";
  readonly code: ProtocolErrorCode;
  readonly field: string;

  constructor(code: ProtocolErrorCode, field: string, message: string) {
    super(field === "" ? message : `${field}: ${message}`);
    this.code = code;
    this.field = field;
  }
}

export function isProtocolError(err: unknown): err is ProtocolError {
  return err instanceof ProtocolError;
}
