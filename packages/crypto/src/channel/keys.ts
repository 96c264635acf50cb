import { weakSharedSecret } from "../backend/checks.js";
import { defaultBackend } from "../backend/select.js";
import type { CryptoBackend } from "../backend/types.js";
import { assertBytes, concatBytes, isAllZero, toHex, utf8Bytes } from "../bytes.js";
import { CryptoError } from "../errors.js";

export const CHANNEL_INFO_LABEL = "fame/channel/v1";
export const CHANNEL_KID_LABEL = "fame/channel/v1/kid";
export const CHANNEL_KEY_LENGTH = 32;
export const CHANNEL_KID_LENGTH = 8;

export type ChannelRole = "client" | "replica";

/** One direction of a channel: the AEAD key and its public commitment. */
export interface DirectionKey {
  readonly key: Uint8Array;
  /** Hex key id: a one-way commitment to `key`, safe to put on the wire. */
  readonly kid: string;
}

export interface ChannelKeys {
  readonly clientToReplica: DirectionKey;
  readonly replicaToClient: DirectionKey;
}

export interface ChannelKeyInput {
  /** Defaults to `defaultBackend()`. */
  readonly backend?: CryptoBackend;
  /** X25519 output of the two ephemeral keys. */
  readonly sharedSecret: Uint8Array;
  readonly clientEphPub: Uint8Array;
  readonly replicaEphPub: Uint8Array;
  /** Channel id. */
  readonly cid: string;
  readonly clientSid: string;
  readonly replicaSid: string;
}

const KID_INFO = utf8Bytes(CHANNEL_KID_LABEL);
const EMPTY = new Uint8Array(0);
const SEPARATOR = Uint8Array.of(0);

function label(name: string, value: unknown): Uint8Array {
  // Fields are NUL-separated, so a NUL inside one would make two different
  // (cid, sid, sid) triples produce the same info string.
  if (typeof value !== "string" || value.length === 0 || value.includes("\0")) {
    throw new CryptoError("bad_input", `${name} must be a non-empty string without NUL characters`);
  }
  return utf8Bytes(value);
}

/** Key id for a direction key: HKDF(ikm = key, info = CHANNEL_KID_LABEL), truncated. */
export function channelKeyId(backend: CryptoBackend, key: Uint8Array): string {
  return toHex(backend.hkdf(key, EMPTY, KID_INFO, CHANNEL_KID_LENGTH));
}

/**
 * Key schedule of a channel between a client and one agent replica:
 *
 *   salt = SHA-256(clientEphPub || replicaEphPub)
 *   info = "fame/channel/v1" || 0x00 || cid || 0x00 || clientSid || 0x00 || replicaSid
 *   okm  = HKDF-SHA256(ikm = sharedSecret, salt, info, 64)
 *   client->replica key = okm[0..32], replica->client key = okm[32..64]
 *
 * Binding both ephemeral keys and all three identifiers means keys from one
 * channel or replica can never decrypt another's records.
 */
export function deriveChannelKeys(input: ChannelKeyInput): ChannelKeys {
  const backend = input.backend ?? defaultBackend();
  assertBytes(input.sharedSecret, "sharedSecret", 32, "bad_key");
  assertBytes(input.clientEphPub, "clientEphPub", 32, "bad_key");
  assertBytes(input.replicaEphPub, "replicaEphPub", 32, "bad_key");
  if (isAllZero(input.sharedSecret)) throw weakSharedSecret();

  const salt = backend.sha256(concatBytes(input.clientEphPub, input.replicaEphPub));
  const info = concatBytes(
    utf8Bytes(CHANNEL_INFO_LABEL),
    SEPARATOR,
    label("cid", input.cid),
    SEPARATOR,
    label("clientSid", input.clientSid),
    SEPARATOR,
    label("replicaSid", input.replicaSid),
  );
  const okm = backend.hkdf(input.sharedSecret, salt, info, 2 * CHANNEL_KEY_LENGTH);
  const clientToReplica = okm.slice(0, CHANNEL_KEY_LENGTH);
  const replicaToClient = okm.slice(CHANNEL_KEY_LENGTH);
  okm.fill(0);
  return {
    clientToReplica: { key: clientToReplica, kid: channelKeyId(backend, clientToReplica) },
    replicaToClient: { key: replicaToClient, kid: channelKeyId(backend, replicaToClient) },
  };
}
