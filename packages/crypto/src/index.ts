export { BACKEND_ENV_VAR, defaultBackend, getBackend, isBackendAvailable } from "./backend/select.js";
export {
  AEAD_KEY_LENGTH,
  AEAD_NONCE_LENGTH,
  AEAD_TAG_LENGTH,
  type BackendName,
  type CryptoBackend,
  ED25519_PUBLIC_KEY_LENGTH,
  ED25519_SEED_LENGTH,
  ED25519_SIGNATURE_LENGTH,
  type Ed25519KeyPair,
  type Ed25519SigningKey,
  type Ed25519VerifyKey,
  HKDF_SHA256_MAX_LENGTH,
  SHA256_LENGTH,
  X25519_KEY_LENGTH,
  type X25519KeyPair,
} from "./backend/types.js";
export { concatBytes, equalBytes, fromHex, scratchBytes, toHex, utf8Bytes } from "./bytes.js";
export {
  CHANNEL_INFO_LABEL,
  CHANNEL_KEY_LENGTH,
  CHANNEL_KID_LABEL,
  CHANNEL_KID_LENGTH,
  type ChannelKeyInput,
  type ChannelKeys,
  type ChannelRole,
  channelKeyId,
  type DirectionKey,
  deriveChannelKeys,
} from "./channel/keys.js";
export {
  AAD_CHECK_LENGTH,
  ChannelReceiver,
  type ChannelReceiverOptions,
  type ChannelRecord,
  ChannelSender,
  type ChannelSenderOptions,
  DEFAULT_RECORD_LIMIT,
} from "./channel/record.js";
export { DEFAULT_REPLAY_WINDOW, type ReplayVerdict, ReplayWindow } from "./channel/replay-window.js";
export { CryptoError, type CryptoErrorCode, isCryptoError } from "./errors.js";
export { sha256 } from "./hash.js";
