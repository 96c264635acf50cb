/**
 * JSON-RPC 2.0 codec with the FAME streaming extension.
 *
 * Wire forms (all carry `jsonrpc: "2.0"` and `id`):
 *   request  { method, params?, stream_window? }   stream_window: caller accepts a stream
 *   result   { result }                            error { error: { code, message, data? } }
 *   item     { stream: "item", seq, result }        end   { stream: "end", seq }
 *   credit   { stream: "credit", n }                cancel { stream: "cancel" }
 * A stream is terminated by `end` or by a normal error response.
 *
 * Every payload comes from the network, so parsing is strict: unknown keys, wrong types and
 * oversize strings are rejected, and nothing here ever throws.
 */
import { isJsonObject, isJsonValue, isPlainObject } from "./json-value.js";
import { RpcErrorCode } from "./rpc-error.js";
import type { JsonObject, JsonValue } from "./transport.js";

export const JSONRPC_VERSION = "2.0";
export const MAX_METHOD_LENGTH = 128;
export const MAX_ID_LENGTH = 128;
export const MAX_FAME_CODE_LENGTH = 64;
/** Longest error message accepted from the network; longer local messages are truncated. */
export const MAX_ERROR_MESSAGE_LENGTH = 8192;
/** Largest credit window a caller may offer; bounds the callee's run-ahead and the caller's buffer. */
export const MAX_STREAM_WINDOW = 1024;
export const DEFAULT_STREAM_WINDOW = 32;

export type RpcId = string | number;

export interface RpcErrorObject {
  code: number;
  message: string;
  data?: JsonObject;
}

export interface RpcRequestMessage {
  kind: "request";
  id: RpcId;
  method: string;
  params: JsonObject | undefined;
  /** Present when the caller accepts a streamed answer, with its credit window. */
  streamWindow: number | undefined;
  /**
   * The caller's W3C trace context, when its call is traced. A wrong type or length is refused
   * like any malformed member; the format is checked where a span is made, and a value that
   * fails it is ignored there (the call is served untraced).
   */
  traceparent?: string | undefined;
  tracestate?: string | undefined;
}
export interface RpcResultMessage {
  kind: "result";
  id: RpcId;
  result: JsonValue;
}
export interface RpcErrorMessage {
  kind: "error";
  id: RpcId | null;
  error: RpcErrorObject;
}
export interface RpcStreamItemMessage {
  kind: "item";
  id: RpcId;
  seq: number;
  result: JsonValue;
}
export interface RpcStreamEndMessage {
  kind: "end";
  id: RpcId;
  seq: number;
}
export interface RpcStreamCreditMessage {
  kind: "credit";
  id: RpcId;
  n: number;
}
export interface RpcStreamCancelMessage {
  kind: "cancel";
  id: RpcId;
}

export type RpcMessage =
  | RpcRequestMessage
  | RpcResultMessage
  | RpcErrorMessage
  | RpcStreamItemMessage
  | RpcStreamEndMessage
  | RpcStreamCreditMessage
  | RpcStreamCancelMessage;

/** Messages travelling from callee to caller. */
export type RpcReplyMessage = RpcResultMessage | RpcErrorMessage | RpcStreamItemMessage | RpcStreamEndMessage;

export type RpcParseResult =
  | { ok: true; message: RpcMessage }
  | {
      ok: false;
      /** True when the payload should be answered with an error response (it is not a reply). */
      answer: boolean;
      /** The id to answer with: the payload's own id when that was valid, else null. */
      id: RpcId | null;
      error: RpcErrorObject;
    };

// ---------------------------------------------------------------------------------------------
// Builders (outgoing)

export function encodeRequest(
  id: RpcId,
  method: string,
  params: JsonObject | undefined,
  streamWindow: number | undefined,
): JsonObject {
  const msg: JsonObject = { jsonrpc: JSONRPC_VERSION, id, method };
  if (params !== undefined) msg["params"] = params;
  if (streamWindow !== undefined) msg["stream_window"] = streamWindow;
  return msg;
}

export function encodeResult(id: RpcId, result: JsonValue): JsonObject {
  return { jsonrpc: JSONRPC_VERSION, id, result };
}

/**
 * The JSON text of encodeRequest(id, method, params, streamWindow), given the params' own text
 * (JSON.stringify's or jsonText's): every call's request is written once per call this way,
 * instead of its wrapper object walked and serialized again for each message.
 */
export function requestText(
  id: RpcId,
  method: string,
  paramsJson: string | undefined,
  streamWindow: number | undefined,
): string {
  let text = `{"jsonrpc":"${JSONRPC_VERSION}","id":${JSON.stringify(id)},"method":${JSON.stringify(method)}`;
  if (paramsJson !== undefined) text += `,"params":${paramsJson}`;
  if (streamWindow !== undefined) text += `,"stream_window":${JSON.stringify(streamWindow)}`;
  return `${text}}`;
}

/** The JSON text of encodeResult(id, result), given the result's own text. */
export function resultText(id: RpcId, resultJson: string): string {
  return `{"jsonrpc":"${JSONRPC_VERSION}","id":${JSON.stringify(id)},"result":${resultJson}}`;
}

export function encodeError(id: RpcId | null, code: number, message: string, fameCode?: string): JsonObject {
  const error: JsonObject = { code, message: truncate(message, MAX_ERROR_MESSAGE_LENGTH) };
  if (fameCode !== undefined) error["data"] = { fame_code: truncate(fameCode, MAX_FAME_CODE_LENGTH) };
  return { jsonrpc: JSONRPC_VERSION, id, error };
}

export function encodeStreamItem(id: RpcId, seq: number, result: JsonValue): JsonObject {
  return { jsonrpc: JSONRPC_VERSION, id, stream: "item", seq, result };
}

export function encodeStreamEnd(id: RpcId, seq: number): JsonObject {
  return { jsonrpc: JSONRPC_VERSION, id, stream: "end", seq };
}

export function encodeStreamCredit(id: RpcId, n: number): JsonObject {
  return { jsonrpc: JSONRPC_VERSION, id, stream: "credit", n };
}

export function encodeStreamCancel(id: RpcId): JsonObject {
  return { jsonrpc: JSONRPC_VERSION, id, stream: "cancel" };
}

/** The FAME code carried in an error object, when it is a well-formed string. */
export function fameCodeOf(error: RpcErrorObject): string | undefined {
  const code = error.data?.["fame_code"];
  return typeof code === "string" ? code : undefined;
}

// ---------------------------------------------------------------------------------------------
// Validators (incoming)

export function isValidId(value: unknown): value is RpcId {
  if (typeof value === "string") return value.length > 0 && value.length <= MAX_ID_LENGTH;
  return typeof value === "number" && Number.isSafeInteger(value);
}

export function isValidMethodName(value: unknown): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= MAX_METHOD_LENGTH;
}

const REQUEST_KEYS = new Set([
  "jsonrpc",
  "id",
  "method",
  "params",
  "stream_window",
  "traceparent",
  "tracestate",
]);
/** W3C limits: a version-00 traceparent is 55 characters, a whole tracestate at most 512. */
const TRACEPARENT_LENGTH = 55;
const MAX_TRACESTATE_LENGTH = 512;
const RESULT_KEYS = new Set(["jsonrpc", "id", "result"]);
const ERROR_KEYS = new Set(["jsonrpc", "id", "error"]);
const ERROR_OBJECT_KEYS = new Set(["code", "message", "data"]);
const STREAM_KEYS: Readonly<Record<string, ReadonlySet<string>>> = {
  item: new Set(["jsonrpc", "id", "stream", "seq", "result"]),
  end: new Set(["jsonrpc", "id", "stream", "seq"]),
  credit: new Set(["jsonrpc", "id", "stream", "n"]),
  cancel: new Set(["jsonrpc", "id", "stream"]),
};

/** Classify and validate one payload. Never throws. */
export function parseRpcMessage(payload: unknown): RpcParseResult {
  if (!isPlainObject(payload)) {
    // Not an object at all (or a batch array, which FAME does not use): the spec answers
    // such input with Invalid Request and a null id.
    return invalid(true, null, RpcErrorCode.INVALID_REQUEST, "message must be a JSON object");
  }
  const isRequest = Object.hasOwn(payload, "method");
  const isReply =
    !isRequest &&
    (Object.hasOwn(payload, "result") || Object.hasOwn(payload, "error") || Object.hasOwn(payload, "stream"));
  // Never answer something that claims to be a reply: two peers could otherwise bounce
  // error responses back and forth forever.
  const answer = !isReply;
  const rawId = payload["id"];
  const id = isValidId(rawId) ? rawId : null;
  if (payload["jsonrpc"] !== JSONRPC_VERSION) {
    return invalid(answer, id, RpcErrorCode.INVALID_REQUEST, 'jsonrpc must be "2.0"');
  }
  if (isRequest) return parseRequest(payload, id);
  if (Object.hasOwn(payload, "stream")) return parseStream(payload, id);
  if (Object.hasOwn(payload, "error")) return parseErrorResponse(payload);
  if (Object.hasOwn(payload, "result")) {
    if (id === null) return invalid(false, null, RpcErrorCode.INVALID_REQUEST, "invalid id");
    if (!onlyKeys(payload, RESULT_KEYS))
      return invalid(false, id, RpcErrorCode.INVALID_REQUEST, "unknown field");
    const result = payload["result"];
    if (!isJsonValue(result)) return invalid(false, id, RpcErrorCode.INVALID_REQUEST, "result is not JSON");
    return { ok: true, message: { kind: "result", id, result } };
  }
  return invalid(true, id, RpcErrorCode.INVALID_REQUEST, "message is neither a request nor a reply");
}

function parseRequest(payload: Record<string, unknown>, id: RpcId | null): RpcParseResult {
  if (id === null) {
    return invalid(
      true,
      null,
      RpcErrorCode.INVALID_REQUEST,
      `id must be a string of 1..${MAX_ID_LENGTH} chars or an integer`,
    );
  }
  if (!onlyKeys(payload, REQUEST_KEYS))
    return invalid(true, id, RpcErrorCode.INVALID_REQUEST, "unknown field in request");
  const method = payload["method"];
  if (!isValidMethodName(method)) {
    return invalid(
      true,
      id,
      RpcErrorCode.INVALID_REQUEST,
      `method must be a string of 1..${MAX_METHOD_LENGTH} chars`,
    );
  }
  let streamWindow: number | undefined;
  if (Object.hasOwn(payload, "stream_window")) {
    const w = payload["stream_window"];
    if (typeof w !== "number" || !Number.isSafeInteger(w) || w < 1 || w > MAX_STREAM_WINDOW) {
      return invalid(
        true,
        id,
        RpcErrorCode.INVALID_REQUEST,
        `stream_window must be an integer in 1..${MAX_STREAM_WINDOW}`,
      );
    }
    streamWindow = w;
  }
  let params: JsonObject | undefined;
  if (Object.hasOwn(payload, "params")) {
    const p = payload["params"];
    // Positional (array) params are valid JSON-RPC but not FAME: operations take one object.
    if (!isJsonObject(p))
      return invalid(true, id, RpcErrorCode.INVALID_PARAMS, "params must be a JSON object");
    params = p;
  }
  const traceparent = payload["traceparent"];
  const tracestate = payload["tracestate"];
  if (traceparent !== undefined || tracestate !== undefined) {
    if (
      (traceparent !== undefined &&
        (typeof traceparent !== "string" || traceparent.length !== TRACEPARENT_LENGTH)) ||
      (tracestate !== undefined &&
        (typeof tracestate !== "string" || tracestate.length > MAX_TRACESTATE_LENGTH))
    )
      return invalid(true, id, RpcErrorCode.INVALID_REQUEST, "traceparent or tracestate malformed");
    return {
      ok: true,
      message: { kind: "request", id, method, params, streamWindow, traceparent, tracestate },
    };
  }
  return { ok: true, message: { kind: "request", id, method, params, streamWindow } };
}

function parseErrorResponse(payload: Record<string, unknown>): RpcParseResult {
  const rawId = payload["id"];
  // Error responses may carry a null id (the request's id could not be read).
  if (rawId !== null && !isValidId(rawId))
    return invalid(false, null, RpcErrorCode.INVALID_REQUEST, "invalid id");
  const id = rawId as RpcId | null;
  if (!onlyKeys(payload, ERROR_KEYS))
    return invalid(false, id, RpcErrorCode.INVALID_REQUEST, "unknown field");
  const error = parseErrorObject(payload["error"]);
  if (error === undefined) return invalid(false, id, RpcErrorCode.INVALID_REQUEST, "malformed error object");
  return { ok: true, message: { kind: "error", id, error } };
}

function parseErrorObject(value: unknown): RpcErrorObject | undefined {
  if (!isPlainObject(value) || !onlyKeys(value, ERROR_OBJECT_KEYS)) return undefined;
  const { code, message } = value;
  if (typeof code !== "number" || !Number.isSafeInteger(code)) return undefined;
  if (typeof message !== "string" || message.length > MAX_ERROR_MESSAGE_LENGTH) return undefined;
  if (!Object.hasOwn(value, "data")) return { code, message };
  const data = value["data"];
  if (!isJsonObject(data)) return undefined;
  if (Object.hasOwn(data, "fame_code")) {
    const fc = data["fame_code"];
    if (typeof fc !== "string" || fc.length === 0 || fc.length > MAX_FAME_CODE_LENGTH) return undefined;
  }
  return { code, message, data };
}

function parseStream(payload: Record<string, unknown>, id: RpcId | null): RpcParseResult {
  if (id === null) return invalid(false, null, RpcErrorCode.INVALID_REQUEST, "invalid id");
  const kind = payload["stream"];
  const keys = typeof kind === "string" && Object.hasOwn(STREAM_KEYS, kind) ? STREAM_KEYS[kind] : undefined;
  if (keys === undefined) return invalid(false, id, RpcErrorCode.INVALID_REQUEST, "unknown stream kind");
  if (!onlyKeys(payload, keys)) return invalid(false, id, RpcErrorCode.INVALID_REQUEST, "unknown field");
  switch (kind) {
    case "item": {
      const seq = payload["seq"];
      const result = payload["result"];
      if (!isSeq(seq)) return invalid(false, id, RpcErrorCode.INVALID_REQUEST, "invalid seq");
      if (!Object.hasOwn(payload, "result") || !isJsonValue(result)) {
        return invalid(false, id, RpcErrorCode.INVALID_REQUEST, "item result is not JSON");
      }
      return { ok: true, message: { kind: "item", id, seq, result } };
    }
    case "end": {
      const seq = payload["seq"];
      if (!isSeq(seq)) return invalid(false, id, RpcErrorCode.INVALID_REQUEST, "invalid seq");
      return { ok: true, message: { kind: "end", id, seq } };
    }
    case "credit": {
      const n = payload["n"];
      if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 1 || n > MAX_STREAM_WINDOW) {
        return invalid(false, id, RpcErrorCode.INVALID_REQUEST, "invalid credit");
      }
      return { ok: true, message: { kind: "credit", id, n } };
    }
    default:
      return { ok: true, message: { kind: "cancel", id } };
  }
}

function isSeq(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function onlyKeys(obj: Record<string, unknown>, allowed: ReadonlySet<string>): boolean {
  for (const key of Object.keys(obj)) if (!allowed.has(key)) return false;
  return true;
}

function invalid(answer: boolean, id: RpcId | null, code: number, message: string): RpcParseResult {
  return { ok: false, answer, id, error: { code, message } };
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
