import type { Address } from "./address.js";
import type { ErrorCode } from "./error-codes.js";
import type { JsonValue } from "./json-value.js";

/** Public key as carried on the wire: OKP only (Ed25519 signing, X25519 key agreement). */
export interface Jwk {
  kty: "OKP";
  crv: "Ed25519" | "X25519";
  /** base64url, 32 bytes. */
  x: string;
  kid: string;
  use?: "sig" | "enc";
  /** Standard base64 DER certificates, leaf first, at most 5. */
  x5c?: string[];
}

/** Replica-stickiness policy handed to a node; `mode` names it, other members are its parameters. */
export interface Stickiness {
  mode: string;
  [param: string]: string | number | boolean;
}

export interface NodeAttach {
  type: "NodeAttach";
  systemId: string;
  instanceId: string;
  attachTicket?: string;
  /** Logicals (or `*.` wildcards) the node asks to serve. */
  logicals: string[];
  keys: Jwk[];
  capabilities?: string[];
  /** the node's self-declared name (status pages show it; not an identity), NODE_NAME_PATTERN */
  name?: string;
}

export interface NodeAttachAck {
  type: "NodeAttachAck";
  ok: boolean;
  assignedPath?: string;
  keys?: Jwk[];
  stickiness?: Stickiness;
  heartbeatMs?: number;
  /** the largest frame the sentinel accepts from this node: senders size what they coalesce by it */
  maxFrameBytes?: number;
  /** the sentinel takes link batches of up to this many entries (docs/protocol.md "Link batches") */
  linkBatch?: number;
  /** the sentinel sends and takes sealed Data as binary records (docs/protocol.md "Binary sealed records") */
  binaryRecords?: boolean;
  /**
   * the sentinel also sends and takes batched records with their list as bytes (the 0x02 form,
   * answered to a node announcing BINARY_BATCH_CAPABILITY)
   */
  binaryBatch?: boolean;
  /**
   * the sentinel takes clear batches to logical addresses and delivers each to a replica that
   * takes them (answered to a node announcing CLEAR_BATCH_CAPABILITY)
   */
  poolBatches?: boolean;
  code?: ErrorCode;
  reason?: string;
}

export interface AddressBind {
  type: "AddressBind";
  address: Address;
}

export interface AddressBindAck {
  type: "AddressBindAck";
  address: Address;
  ok: boolean;
  code?: ErrorCode;
  reason?: string;
}

export interface AddressUnbind {
  type: "AddressUnbind";
  address: Address;
}

export interface Heartbeat {
  type: "Heartbeat";
}

export interface HeartbeatAck {
  type: "HeartbeatAck";
}

/**
 * Application data in clear. `pd` (payload digest) is an optional hint that nothing trusts:
 * signatures cover the digest computed from the payload itself (signingInput).
 */
export interface DataJson {
  type: "Data";
  codec: "json";
  /** with `batch`: an array of the messages' payloads, one per entry, in that order */
  payload: JsonValue;
  pd?: string;
  /**
   * Present when the envelope carries several clear messages (2..MAX_BATCH_ENTRIES), as a
   * sealed record's does; the signature, where the profile asks for one, covers the list
   * (payloadDigest). The envelope then has no corrId.
   */
  batch?: BatchEntry[];
}

/**
 * One message of a coalesced channel record: its conversation, and whether more messages
 * of that conversation follow (a stream item) or this one ends it.
 */
export interface BatchEntry {
  corrId: string;
  more?: true;
}

/** Most messages one coalesced channel record may carry. */
export const MAX_BATCH_ENTRIES = 256;

/** Application data sealed for a secure channel; the channel is named by `sec.enc`. */
export interface DataEnc {
  type: "Data";
  codec: "enc";
  /** base64url ciphertext including the AEAD tag. */
  ct: string;
  pd?: string;
  /**
   * Present when the record carries several messages (2..MAX_BATCH_ENTRIES): the plaintext
   * is a JSON array of their payloads, in this order. The list travels in the clear so the
   * sentinel can account for each call, and is bound into the AEAD additional data
   * (see aeadAad), so nobody can change it on the way. The envelope then has no corrId.
   */
  batch?: BatchEntry[];
}

export type Data = DataJson | DataEnc;

export interface DeliveryAck {
  type: "DeliveryAck";
  ok: boolean;
  refId: string;
  /** Required when `ok` is false. */
  code?: ErrorCode;
  reason?: string;
}

/** At least one of `kid` / `address` is present. */
export interface KeyRequest {
  type: "KeyRequest";
  kid?: string;
  address?: Address;
}

export interface KeyAnnounce {
  type: "KeyAnnounce";
  keys: Jwk[];
  sid?: string;
  address?: Address;
}

export interface SecureOpen {
  type: "SecureOpen";
  cid: string;
  /** base64url X25519 public key, 32 bytes. */
  ephPub: string;
  alg: "CHACHA20P1305";
}

export interface SecureAccept {
  type: "SecureAccept";
  cid: string;
  ok: boolean;
  /** Required when `ok` is true. */
  ephPub?: string;
  aft?: string;
  code?: ErrorCode;
  reason?: string;
}

export interface SecureClose {
  type: "SecureClose";
  cid: string;
  reason?: string;
}

export interface Drain {
  type: "Drain";
  deadlineMs?: number;
}

/**
 * An attached node's renewed keys (strict-overlay: its certificate renewed before it expires),
 * to its sentinel, signed with a key it holds now. Answered by a DeliveryAck naming it.
 */
export interface KeyUpdate {
  type: "KeyUpdate";
  keys: Jwk[];
}

export type Frame =
  | NodeAttach
  | NodeAttachAck
  | AddressBind
  | AddressBindAck
  | AddressUnbind
  | Heartbeat
  | HeartbeatAck
  | Data
  | DeliveryAck
  | KeyRequest
  | KeyAnnounce
  | SecureOpen
  | SecureAccept
  | SecureClose
  | Drain
  | KeyUpdate;

export type FrameType = Frame["type"];

/** The frame variant(s) with the given `type`. */
export type FrameOf<T extends FrameType> = Extract<Frame, { type: T }>;

export const FRAME_TYPES: readonly FrameType[] = Object.freeze([
  "NodeAttach",
  "NodeAttachAck",
  "AddressBind",
  "AddressBindAck",
  "AddressUnbind",
  "Heartbeat",
  "HeartbeatAck",
  "Data",
  "DeliveryAck",
  "KeyRequest",
  "KeyAnnounce",
  "SecureOpen",
  "SecureAccept",
  "SecureClose",
  "Drain",
  "KeyUpdate",
] satisfies FrameType[]);

const FRAME_TYPE_SET: ReadonlySet<string> = new Set(FRAME_TYPES);

export function isFrameType(value: unknown): value is FrameType {
  return typeof value === "string" && FRAME_TYPE_SET.has(value);
}
