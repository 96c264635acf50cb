import type { Ed25519VerifyKey } from "@fame/crypto";
import type { Jwk } from "@fame/protocol";
import { FrameBucket } from "./limits/frame-rate.js";
import { LogThrottle } from "./limits/log-throttle.js";

/** The transport under a session: a WebSocket in production, a fake in unit tests. */
export interface Link {
  send(data: string | Buffer): void;
  /** one binary message (a sealed record), after what `send` holds; absent: text only */
  sendBinary?(data: Buffer | Uint8Array): void;
  close(code: number, reason: string): void;
  /** bytes queued and not yet written: a slow reader shows here */
  readonly bufferedAmount: number;
  /** peer address, for logs and rate limits */
  readonly remote: string;
  /**
   * From now on, what one turn sends leaves as link batches of up to `maxEntries` and
   * `maxBytes` (the node offered them at attach). Links that cannot batch (a cluster peer's)
   * leave it out.
   */
  batchTo?(maxEntries: number, maxBytes: number): void;
}

/** A node's signing key as learned at attach or through KeyAnnounce. */
export interface NodeKey {
  kid: string;
  publicKey: Uint8Array;
  verifyKey: Ed25519VerifyKey;
  /** as the node presented it (x5c included), for KeyAnnounce to other nodes */
  jwk: Jwk;
  /** certificate expiry (ms epoch), when the key came with a chain */
  notAfter?: number;
}

export type SessionState = "attaching" | "attached" | "closed";

/** Where a remote session's node is attached: the sentinel frames for it are published to. */
export interface RemotePeer {
  /** the sentinel the node is attached to; changes when the node moves */
  owner: string;
}

/** One attached (or attaching) node connection. */
export class NodeSession {
  state: SessionState = "attaching";
  /** registry member id: the node's systemId once attached */
  id = "";
  systemId = "";
  instanceId = "";
  /** the node's self-declared name (NodeAttach.name, validated by the decoder); "" when none */
  name = "";
  sid = "";
  path = "";
  acceptedLogicals: string[] = [];
  /**
   * Who this node is for the access policy: the OAuth2 client id it was admitted with (the
   * attach ticket's `client_id`), or its SPIFFE id when no Welcome ticket placed it.
   */
  principal = "";
  /**
   * Who holds the credential it was admitted with (AttachDecision.credential): the key of the
   * bounds one holder's nodes share. "" for a node attached elsewhere in a cluster.
   */
  credential = "";
  /**
   * Who owns the affinity sessions this node opens: its principal and its process instance
   * (both from the attach ticket). A node that re-attaches (new connection, new sid) keeps
   * its sessions; another node, even of the same principal, has another instance id.
   */
  sessionOwner = "";
  /** when it attached (ms, the sentinel's clock); 0 while attaching */
  attachedAt = 0;
  /** when its last KeyUpdate came (ms), or -1 while one is being checked; 0: none yet */
  keyUpdateAt = 0;
  readonly keys = new Map<string, NodeKey>();
  draining = false;
  /** who put it into draining: the node itself (it is leaving) or the operator (who may resume it) */
  drainedBy: "node" | "operator" | undefined = undefined;
  healthy = true;
  /** the node announced binary sealed records at attach: they are taken from it and sent to it */
  binaryRecords = false;
  /** it also takes batched records with their list as bytes (BINARY_BATCH_CAPABILITY) */
  binaryBatch = false;
  /**
   * The node takes clear batches at its logicals (CLEAR_BATCH_CAPABILITY at attach): a pool
   * places a batch of calls only on such a replica. A node of another sentinel stands here as
   * taking them; its own sentinel checks again before delivering (cluster/cluster-inbox.ts).
   */
  clearBatches = false;
  lastSeen: number;
  private badFrames: LogThrottle | undefined = undefined;
  private refusals: LogThrottle | undefined = undefined;
  private drops: LogThrottle | undefined = undefined;
  /** this connection's frame-rate bucket (FAME_MAX_FRAMES_PER_SEC), updated in place per frame */
  readonly frames = new FrameBucket();
  readonly connectedAt: number;
  attachTimer: NodeJS.Timeout | undefined;
  /**
   * Set when this session stands for a node attached to another sentinel of the cluster
   * (cluster/remote-session.ts): frames for it travel there. Undefined for every connection of
   * this sentinel, and always without a cluster: routing pays one field check.
   */
  remote: RemotePeer | undefined = undefined;

  /**
   * Bad frames from this connection: counted, and their logging rate-limited. Made at the first
   * one: most connections never send one, and an idle node should cost the sentinel little.
   */
  get badFrameLog(): LogThrottle {
    if (this.badFrames === undefined) this.badFrames = new LogThrottle();
    return this.badFrames;
  }

  /** refusals answered to this connection (a flood must not flood the log); made at the first */
  get refusalLog(): LogThrottle {
    if (this.refusals === undefined) this.refusals = new LogThrottle();
    return this.refusals;
  }

  /** frames dropped because this node stopped reading (a slow reader's log stays short); made at the first */
  get dropLog(): LogThrottle {
    if (this.drops === undefined) this.drops = new LogThrottle();
    return this.drops;
  }

  constructor(
    readonly connectionId: string,
    readonly link: Link,
    now: number,
  ) {
    this.lastSeen = now;
    this.connectedAt = now;
  }
}
