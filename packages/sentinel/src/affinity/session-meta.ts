/**
 * Reads the envelope meta keys of session affinity (spelled in @fame/protocol). Clients set them (the SDK from
 * `remoteByAddress(addr, { sessionId })` and `{ endSession: true }`), so they are untrusted
 * input: a malformed value is refused, never guessed at.
 */
import { type Envelope, type ErrorCode, SESSION_END_META, SESSION_ID_META } from "@fame/protocol";

export { SESSION_END_META, SESSION_ID_META };

/** printable ASCII without spaces, up to 128 characters (a UUID, a token, a user-chosen name) */
const SESSION_ID = /^[\x21-\x7e]{1,128}$/;

export interface SessionMeta {
  sessionId: string | undefined;
  /** the client's last call of the session */
  end: boolean;
}

export interface SessionMetaError {
  code: ErrorCode;
  reason: string;
}

const NONE: SessionMeta = Object.freeze({ sessionId: undefined, end: false });

export function readSessionMeta(meta: Envelope["meta"]): SessionMeta | SessionMetaError {
  if (meta === undefined) return NONE;
  const id = meta[SESSION_ID_META];
  const end = meta[SESSION_END_META];
  if (id === undefined && end === undefined) return NONE;
  if (id !== undefined && (typeof id !== "string" || !SESSION_ID.test(id))) {
    return { code: "bad_envelope", reason: `meta ${SESSION_ID_META} must be 1-128 printable characters` };
  }
  let ends = false;
  if (end === true || end === "true") ends = true;
  else if (end !== undefined && end !== false && end !== "false") {
    return { code: "bad_envelope", reason: `meta ${SESSION_END_META} must be true or false` };
  }
  return { sessionId: id, end: ends };
}

export function isSessionMetaError(v: SessionMeta | SessionMetaError): v is SessionMetaError {
  return "code" in v;
}
