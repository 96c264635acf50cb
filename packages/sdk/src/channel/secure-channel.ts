import {
  ChannelReceiver,
  type ChannelRole,
  ChannelSender,
  type CryptoBackend,
  deriveChannelKeys,
  utf8Bytes,
} from "@fame/crypto";
import {
  aeadAad,
  type BatchEntry,
  base64urlEncode,
  type DataEnc,
  type Envelope,
  jsonText,
  recordBytes,
  setRecordBytes,
} from "@fame/protocol";
import type { CallerIdentity } from "../rpc/call-context.js";

const decoder = new TextDecoder();

/**
 * One end of an encrypted channel: the keys for both directions, a counter
 * for sending and a replay window for receiving. Keys exist only here and on
 * the one peer that took part in the handshake.
 */
export class SecureChannel {
  readonly createdAt: number;
  /** messages sealed so far (a coalesced record counts each of its messages) */
  sealed = 0;
  /** a retiring channel finishes its calls but takes no new ones */
  retiring = false;
  /** ms epoch of the last record in or out: a replica evicts only channels idle for a while */
  lastUsedAt: number;
  /** replica side: who the peer is, as operations see it (found on first use, then shared) */
  caller: CallerIdentity | undefined;
  /** replica side: the principal whose share of the channel table this channel was counted in */
  countedFor: string | undefined;
  /**
   * Client side, after a reattach that kept the sid: records carry the AFT until the replica is
   * heard on this channel again, so a sentinel that lost the pin (a restart, another sentinel)
   * restores it from the AFT instead of refusing the channel.
   */
  repinning = false;
  private readonly sender: ChannelSender;
  private readonly receiver: ChannelReceiver;

  constructor(
    readonly cid: string,
    readonly role: ChannelRole,
    /** sid of the other end */
    readonly peerSid: string,
    /** client side: the logical address the channel serves; replica side: the client's reply address */
    readonly address: string,
    init: {
      backend: CryptoBackend;
      sharedSecret: Uint8Array;
      clientEphPub: Uint8Array;
      replicaEphPub: Uint8Array;
      clientSid: string;
      replicaSid: string;
      now: number;
    },
    /** the replica's affinity tag, echoed by clients in stateless mode */
    readonly aft?: string,
  ) {
    const keys = deriveChannelKeys({
      backend: init.backend,
      sharedSecret: init.sharedSecret,
      clientEphPub: init.clientEphPub,
      replicaEphPub: init.replicaEphPub,
      cid,
      clientSid: init.clientSid,
      replicaSid: init.replicaSid,
    });
    this.sender = new ChannelSender({ keys, role, backend: init.backend });
    this.receiver = new ChannelReceiver({ keys, role, backend: init.backend });
    this.createdAt = init.now;
    this.lastUsedAt = init.now;
  }

  /** Turns a prepared envelope's payload into a sealed Data frame bound to its headers. */
  seal(env: Envelope, payload: unknown): void {
    this.sealText(env, jsonText(payload));
  }

  /**
   * Seals JSON text as the envelope's Data frame: one payload, or with `batch` the JSON
   * array of that many payloads (a coalesced record; the list is bound into the AAD).
   * `binary`: the ciphertext stays bytes, for the binary wire form (protocol's binary-record);
   * otherwise it becomes base64url text in the frame.
   */
  sealText(env: Envelope, json: string, batch?: BatchEntry[], binary = false): void {
    const frame: DataEnc = { type: "Data", codec: "enc", ct: "" };
    if (batch !== undefined) frame.batch = batch;
    // the frame goes in first: aeadAad reads a batch list from it
    env.frame = frame;
    const record = this.sender.seal(utf8Bytes(json), aeadAad(env));
    this.sealed += batch === undefined ? 1 : batch.length;
    if (binary) setRecordBytes(frame, record.ct);
    else frame.ct = base64urlEncode(record.ct);
    env.sec = {
      ...env.sec,
      enc: {
        alg: "chacha20-poly1305-channel",
        cid: this.cid,
        seq: record.seq,
        kid: record.kid,
        ac: record.aadCheck,
      },
    };
  }

  /** Opens a sealed Data envelope; throws CryptoError (replay, decrypt_failed, …) */
  open(env: Envelope): unknown {
    const frame = env.frame;
    const enc = env.sec?.enc;
    if (frame.type !== "Data" || frame.codec !== "enc" || !enc) throw new Error("not a sealed Data envelope");
    const plaintext = this.receiver.open(
      // decodeEnvelope already refused a ct that is not strict base64url, so node's decoder
      // (lenient, but any other bytes would fail the AEAD tag anyway) need not scan it again
      { seq: enc.seq, kid: enc.kid, aadCheck: enc.ac, ct: recordBytes(frame) ?? ctBytes(frame.ct) },
      aeadAad(env),
    );
    return JSON.parse(decoder.decode(plaintext));
  }
}

function ctBytes(ct: string): Uint8Array {
  const buf = Buffer.from(ct, "base64url");
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}
