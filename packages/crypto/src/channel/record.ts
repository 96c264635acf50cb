import { defaultBackend } from "../backend/select.js";
import { AEAD_NONCE_LENGTH, type CryptoBackend } from "../backend/types.js";
import { assertBytes, toHex } from "../bytes.js";
import { CryptoError } from "../errors.js";
import { CHANNEL_KEY_LENGTH, type ChannelKeys, type ChannelRole, type DirectionKey } from "./keys.js";
import { DEFAULT_REPLAY_WINDOW, ReplayWindow } from "./replay-window.js";

/** One encrypted data frame of a channel. */
export interface ChannelRecord {
  /** Record counter, 1..2^53-1; also the low 8 bytes of the nonce. */
  readonly seq: number;
  /** Key id of the sending direction's key. */
  readonly kid: string;
  /** Hex of the first 8 bytes of SHA-256(aad): tells a wrong AAD apart from tampering. */
  readonly aadCheck: string;
  /** ChaCha20-Poly1305 ciphertext followed by the 16-byte tag. */
  readonly ct: Uint8Array;
}

/**
 * Default number of records per key before `limit_reached`. Far below the
 * ChaCha20-Poly1305 usage limits and the 2^53-1 sequence ceiling, yet large
 * enough that only a very long-lived, busy channel has to re-key.
 */
export const DEFAULT_RECORD_LIMIT = 2 ** 32;
export const AAD_CHECK_LENGTH = 8;

/** First nonce bytes per direction, so the two directions can never share a nonce. */
const DIRECTION_TAG: Record<"clientToReplica" | "replicaToClient", number> = {
  clientToReplica: 0x00000001,
  replicaToClient: 0x00000002,
};

const EMPTY = new Uint8Array(0);
const TWO_POW_32 = 2 ** 32;

function sendingDirection(role: ChannelRole): "clientToReplica" | "replicaToClient" {
  return role === "client" ? "clientToReplica" : "replicaToClient";
}

function receivingDirection(role: ChannelRole): "clientToReplica" | "replicaToClient" {
  return role === "client" ? "replicaToClient" : "clientToReplica";
}

function checkRole(role: unknown): asserts role is ChannelRole {
  if (role !== "client" && role !== "replica") {
    throw new CryptoError("bad_input", 'channel role must be "client" or "replica"');
  }
}

function copyDirectionKey(keys: ChannelKeys, direction: keyof ChannelKeys): DirectionKey {
  const entry = keys[direction];
  assertBytes(entry?.key, `${direction} key`, CHANNEL_KEY_LENGTH, "bad_key");
  // Copy so the caller wiping or reusing its buffers cannot change our key.
  return { key: entry.key.slice(), kid: entry.kid };
}

/** Reusable 12-byte nonce: 4-byte direction tag || 8-byte big-endian counter. */
class NonceBuffer {
  readonly bytes = new Uint8Array(AEAD_NONCE_LENGTH);
  readonly #view = new DataView(this.bytes.buffer);

  constructor(directionTag: number) {
    this.#view.setUint32(0, directionTag);
  }

  set(seq: number): Uint8Array {
    this.#view.setUint32(4, Math.floor(seq / TWO_POW_32));
    this.#view.setUint32(8, seq >>> 0);
    return this.bytes;
  }
}

function aadCheck(backend: CryptoBackend, aad: Uint8Array): string {
  return toHex(backend.sha256(aad).subarray(0, AAD_CHECK_LENGTH));
}

export interface ChannelSenderOptions {
  readonly keys: ChannelKeys;
  /** Local role: a client sends client->replica, a replica sends replica->client. */
  readonly role: ChannelRole;
  readonly backend?: CryptoBackend;
  /** Records this key may seal before `limit_reached`; default DEFAULT_RECORD_LIMIT. */
  readonly limit?: number;
}

export class ChannelSender {
  readonly role: ChannelRole;
  readonly kid: string;
  readonly limit: number;
  readonly #backend: CryptoBackend;
  readonly #key: Uint8Array;
  readonly #nonce: NonceBuffer;
  #lastSeq = 0;

  constructor(options: ChannelSenderOptions) {
    checkRole(options.role);
    const limit = options.limit ?? DEFAULT_RECORD_LIMIT;
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new CryptoError("bad_input", "record limit must be an integer in 1..2^53-1");
    }
    const direction = sendingDirection(options.role);
    const { key, kid } = copyDirectionKey(options.keys, direction);
    this.role = options.role;
    this.kid = kid;
    this.limit = limit;
    this.#backend = options.backend ?? defaultBackend();
    this.#key = key;
    this.#nonce = new NonceBuffer(DIRECTION_TAG[direction]);
  }

  /** Records still available under this key. */
  get remaining(): number {
    return this.limit - this.#lastSeq;
  }

  seal(plaintext: Uint8Array, aad: Uint8Array = EMPTY): ChannelRecord {
    assertBytes(plaintext, "plaintext");
    assertBytes(aad, "aad");
    if (this.#lastSeq >= this.limit) {
      throw new CryptoError("limit_reached", `channel key used for ${this.limit} records; re-key`);
    }
    // Burn the number before sealing: even if sealing throws, a nonce is never reused.
    const seq = ++this.#lastSeq;
    const ct = this.#backend.aeadSeal(this.#key, this.#nonce.set(seq), plaintext, aad);
    return { seq, kid: this.kid, aadCheck: aadCheck(this.#backend, aad), ct };
  }
}

export interface ChannelReceiverOptions {
  readonly keys: ChannelKeys;
  /** Local role: a replica opens client->replica records, a client the reverse. */
  readonly role: ChannelRole;
  readonly backend?: CryptoBackend;
  /** Replay window size in records; default 1024. */
  readonly windowSize?: number;
}

export class ChannelReceiver {
  readonly role: ChannelRole;
  readonly kid: string;
  readonly #backend: CryptoBackend;
  readonly #key: Uint8Array;
  readonly #nonce: NonceBuffer;
  readonly #window: ReplayWindow;

  constructor(options: ChannelReceiverOptions) {
    checkRole(options.role);
    const direction = receivingDirection(options.role);
    const { key, kid } = copyDirectionKey(options.keys, direction);
    this.role = options.role;
    this.kid = kid;
    this.#backend = options.backend ?? defaultBackend();
    this.#key = key;
    this.#nonce = new NonceBuffer(DIRECTION_TAG[direction]);
    this.#window = new ReplayWindow(options.windowSize ?? DEFAULT_REPLAY_WINDOW);
  }

  /** Highest sequence number accepted so far (0 before the first record). */
  get highestSeq(): number {
    return this.#window.highest;
  }

  /**
   * Checks run cheapest first and the window is updated only after the tag
   * verifies, so a forged record can neither decrypt nor burn a sequence number.
   * A record that fails to open is reported as `aad_mismatch` when its AAD check
   * differs from ours, else as `decrypt_failed`.
   */
  open(record: ChannelRecord, aad: Uint8Array = EMPTY): Uint8Array {
    assertBytes(aad, "aad");
    if (typeof record !== "object" || record === null) {
      throw new CryptoError("bad_input", "record must be an object");
    }
    const { seq, kid, ct } = record;
    assertBytes(ct, "record ct");
    if (typeof kid !== "string" || typeof record.aadCheck !== "string") {
      throw new CryptoError("bad_input", "record kid and aadCheck must be strings");
    }
    const verdict = this.#window.check(seq);
    if (verdict === "invalid")
      throw new CryptoError("bad_input", "record seq must be an integer in 1..2^53-1");
    if (kid !== this.kid) {
      throw new CryptoError("key_mismatch", `record key id ${kid} does not match receiving key ${this.kid}`);
    }
    if (verdict !== "fresh") {
      throw new CryptoError("replay", `record seq ${seq} rejected: ${verdict.replace("_", " ")}`);
    }
    let plaintext: Uint8Array;
    try {
      plaintext = this.#backend.aeadOpen(this.#key, this.#nonce.set(seq), ct, aad);
    } catch (error) {
      // The AAD check only names why a record failed, so it is hashed on failure alone;
      // a record that opens had the right AAD (the tag covers it).
      if (record.aadCheck !== aadCheck(this.#backend, aad)) {
        throw new CryptoError("aad_mismatch", "record was sealed with different additional data", {
          cause: error,
        });
      }
      throw error;
    }
    this.#window.mark(seq);
    return plaintext;
  }
}
