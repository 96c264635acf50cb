/** The attach handshake's two messages: what a node asks for, and what it learns from the answer. */
import {
  BINARY_BATCH_CAPABILITY,
  BINARY_RECORDS_CAPABILITY,
  CLEAR_BATCH_CAPABILITY,
  type Envelope,
  LINK_BATCH_CAPABILITY,
  type Limits,
  makeEnvelope,
  type NodeAttach,
  resolveLimits,
  sidFromPath,
} from "@fame/protocol";
import { ConnectionError } from "./connection-error.js";
import type { NodeSigner } from "./node-signer.js";

/** What admission produced for one attach: where to go and with what. */
export interface AttachPlan {
  /** the sentinel to attach to (Welcome's placement) */
  url: string;
  /** every sentinel the node may attach to, preferred first (a cluster); absent: only `url` */
  urls?: readonly string[] | undefined;
  systemId: string;
  instanceId: string;
  attachTicket?: string | undefined;
  logicals: string[];
  signer: NodeSigner;
  /** the node's name for the sentinel's status (NODE_NAME_PATTERN) */
  name?: string | undefined;
  /**
   * when the attach ticket expires (epoch ms): a plan whose ticket never left this node (the
   * dial failed) is used again until shortly before, instead of a whole new admission
   */
  ticketExpiresAt?: number | undefined;
}

/** What the sentinel granted an attached node. */
export interface AttachedSession {
  path: string;
  sid: string;
  /** the sentinel's sid: envelopes under it are the sentinel's own control frames */
  sentinelSid: string;
  heartbeatMs: number;
  /** what this node may send: its own frame limit, or the sentinel's if smaller */
  sendLimits: Readonly<Limits>;
  /** the most entries the sentinel takes in one link batch; undefined: it takes none */
  linkBatch: number | undefined;
  /** the sentinel takes and sends sealed Data as binary records (it answered our capability) */
  binaryRecords: boolean;
  /** it also takes batched records with their list as bytes (BINARY_BATCH_RECORD_TAG) */
  binaryBatch: boolean;
  /** the sentinel takes clear batches to logical addresses (it answered our capability) */
  poolBatches: boolean;
}

/** Only wss:// is dialled, unless plain ws:// is allowed for development. */
export function checkDialable(url: string, allowInsecure: boolean): void {
  // The URL may come from Welcome's answer: the check belongs at the dial.
  if (url.startsWith("wss://") || (allowInsecure && url.startsWith("ws://"))) return;
  throw new ConnectionError(
    "insecure_transport",
    `refusing to attach over ${url.split("//")[0]}// (wss:// required; FAME_DEV_INSECURE_HTTP=1 allows ws:// in development)`,
  );
}

/**
 * The NodeAttach request for `plan`; signed (and carrying the key) unless the profile is open.
 * `linkBatch`: the node takes link batches from the sentinel; `binaryRecords`: it sends and takes
 * sealed Data as binary records (both offered as capabilities). Every node of this SDK takes
 * clear batches at its logicals (CLEAR_BATCH_CAPABILITY): the receive path has no switch.
 */
export function attachRequest(
  plan: AttachPlan,
  signed: boolean,
  linkBatch = false,
  binaryRecords = false,
): Envelope<NodeAttach> {
  const capabilities = [
    ...(linkBatch ? [LINK_BATCH_CAPABILITY] : []),
    ...(binaryRecords ? [BINARY_RECORDS_CAPABILITY, BINARY_BATCH_CAPABILITY] : []),
    CLEAR_BATCH_CAPABILITY,
  ];
  const attach = makeEnvelope<NodeAttach>({
    sid: "pending",
    frame: {
      type: "NodeAttach",
      systemId: plan.systemId,
      instanceId: plan.instanceId,
      logicals: plan.logicals,
      keys: signed ? [plan.signer.jwk] : [],
      ...(plan.attachTicket ? { attachTicket: plan.attachTicket } : {}),
      ...(plan.name ? { name: plan.name } : {}),
      ...(capabilities.length > 0 ? { capabilities } : {}),
    },
  });
  if (signed) plan.signer.sign(attach);
  return attach;
}

/** The session an attach answer grants; throws the refusal's code when it refuses. */
export function sessionFrom(answer: Envelope, ownLimits: Readonly<Limits>): AttachedSession {
  const frame = answer.frame;
  // a NodeAttachAck, or a nack of the request
  if (frame.type !== "NodeAttachAck" || !frame.ok) {
    const refusal = frame as { code?: string; reason?: string };
    // a node started without the admission settings: say which setting, not just the refusal
    const hint =
      refusal.code === "ticket_invalid" && refusal.reason === "attach ticket required"
        ? " (this sentinel admits nodes through Welcome: set FAME_ADMISSION_PROFILE=welcome and the OAuth2 settings; `fame env` prints them)"
        : "";
    throw new ConnectionError(
      refusal.code ?? "attach_refused",
      `attach refused: ${refusal.reason ?? refusal.code}${hint}`,
    );
  }
  const path = frame.assignedPath ?? "";
  // Never send what the sentinel would refuse (it says how much it takes): an oversized frame
  // fails at once with frame_too_large, instead of as a nack nobody can match.
  const theirs = frame.maxFrameBytes;
  return {
    path,
    sid: sidFromPath(path),
    sentinelSid: answer.sid,
    heartbeatMs: frame.heartbeatMs ?? 5000,
    linkBatch: frame.linkBatch,
    binaryRecords: frame.binaryRecords === true,
    binaryBatch: frame.binaryRecords === true && frame.binaryBatch === true,
    poolBatches: frame.poolBatches === true,
    sendLimits:
      theirs !== undefined && theirs < ownLimits.maxFrameBytes
        ? resolveLimits({ maxFrameBytes: theirs })
        : ownLimits,
  };
}
