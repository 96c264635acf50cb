export {
  type Address,
  addressAllowedBy,
  addressHasName,
  isAddress,
  isLogicalAddress,
  isValidLogical,
  isValidName,
  isValidPath,
  isWildcardLogical,
  type LogicalAddress,
  type LogicalPattern,
  logicalMatches,
  type ParsedAddress,
  type PhysicalAddress,
  parseAddress,
  parseLogical,
  tryParseAddress,
} from "./address.js";
export {
  Base64Error,
  base64urlByteLength,
  base64urlDecode,
  base64urlEncode,
  isBase64,
  isBase64url,
} from "./base64.js";
export {
  BINARY_BATCH_CAPABILITY,
  BINARY_BATCH_RECORD_TAG,
  BINARY_RECORD_TAG,
  BINARY_RECORDS_CAPABILITY,
  decodeBinaryRecord,
  encodeBinaryRecord,
  encodeRecordAsText,
  isBinaryRecord,
  MAX_BINARY_HEADER_BYTES,
  recordBytes,
  setRecordBytes,
} from "./binary-record.js";
export { type EnvelopeInit, makeEnvelope, type NackOrigin, nackFor } from "./builders.js";
export { CanonicalJsonError, canonicalJson, canonicalJsonBytes } from "./canonical-json.js";
export {
  decodeEnvelope,
  encodeEnvelope,
  encodeEnvelopeWithPayload,
  encodeSealedEnvelope,
  utf8Length,
} from "./codec.js";
export type {
  EncryptionBlock,
  Envelope,
  MetaValue,
  SecurityBlock,
  SignatureBlock,
} from "./envelope.js";
export { batchOf, isSealedData, PROTOCOL_VERSION } from "./envelope.js";
export { ERROR_CODE_DESCRIPTIONS, ERROR_CODES, type ErrorCode, isErrorCode } from "./error-codes.js";
export {
  type AddressBind,
  type AddressBindAck,
  type AddressUnbind,
  type BatchEntry,
  type Data,
  type DataEnc,
  type DataJson,
  type DeliveryAck,
  type Drain,
  FRAME_TYPES,
  type Frame,
  type FrameOf,
  type FrameType,
  type Heartbeat,
  type HeartbeatAck,
  isFrameType,
  type Jwk,
  type KeyAnnounce,
  type KeyRequest,
  type KeyUpdate,
  MAX_BATCH_ENTRIES,
  type NodeAttach,
  type NodeAttachAck,
  type SecureAccept,
  type SecureClose,
  type SecureOpen,
  type Stickiness,
} from "./frames.js";
export {
  DEFAULT_FRESHNESS_LIMITS,
  DEFAULT_MAX_CLOCK_SKEW_MS,
  type Freshness,
  type FreshnessLimits,
  FreshnessWindow,
} from "./freshness.js";
export {
  ID_PATTERN,
  isId,
  isSid,
  isSystemId,
  NODE_NAME_PATTERN,
  newId,
  SID_PATTERN,
  SYSTEM_ID_PATTERN,
} from "./ids.js";
export { jsonText, LONG_JSON_STRING, needsNoEscaping } from "./json-text.js";
export type { JSONValue, JsonObject, JsonValue } from "./json-value.js";
export { ed25519KeyId } from "./key-id.js";
export { DEFAULT_LIMITS, type Limits, resolveLimits } from "./limits.js";
export {
  checkLinkBatchEntry,
  encodeLinkBatch,
  isLinkBatch,
  LINK_BATCH_CAPABILITY,
  LINK_BATCH_SEND_BYTES,
  LINK_BATCH_SEND_ENTRIES,
  MAX_LINK_BATCH_ENTRIES,
  type SplitBatch,
  splitLinkBatch,
} from "./link-batch.js";
export {
  CALLER_SID_META,
  CHANNEL_KEPT_META,
  CHANNEL_META_KEY,
  CLEAR_BATCH_CAPABILITY,
  CLEAR_BATCH_META,
  MORE_META,
  NOT_EXECUTED_META,
  SESSION_END_META,
  SESSION_ID_META,
  TRACEPARENT_META,
} from "./meta-keys.js";
export { isProtocolError, ProtocolError, type ProtocolErrorCode } from "./protocol-error.js";
export { base62, sidFromPath } from "./sid.js";
export {
  aeadAad,
  immutableHeaders,
  payloadDigest,
  payloadDigestMatches,
  SIGNING_SEPARATOR,
  signingInput,
} from "./signing-input.js";
export { validateEnvelope, validateFrame } from "./validate.js";
