import { batchOf, type Envelope } from "@fame/protocol";
import type { SessionMeta } from "../affinity/index.js";
import type { NodeSession } from "../node-session.js";
import type { ReplicaPool } from "../routing/index.js";

/**
 * - `control`: a frame for the sentinel itself (Heartbeat, AddressBind, KeyRequest, Drain…)
 * - `probe`: an answer to one of the sentinel's health probes (`health@/<sentinel id>`)
 * - `physical`: to a node's physical address `name@/path` (replies, SecureAccept)
 * - `logical`: to a logical address, through its pool (requests, SecureOpen, channel data)
 */
export type RouteKind = "control" | "probe" | "physical" | "logical";

const NO_SESSION: SessionMeta = Object.freeze({ sessionId: undefined, end: false });

/**
 * One frame on its way from authorization to delivery: what it would touch, as the route
 * stage resolved it without side effects. One object per frame, with every field set in the
 * constructor so all requests share one shape. It also serves as the sticky table's route
 * input (`clientSid`, `cid`, `address`, `opening`, `aft`), so a channel frame is routed without
 * building another object.
 */
export class RouteRequest {
  kind: RouteKind = "control";
  /** physical: the node addressed */
  target: NodeSession | undefined = undefined;
  /** physical: the name in `name@/path` */
  name = "";
  /** logical: the destination address */
  address: string | undefined = undefined;
  /** logical: the pool bound at `address` (undefined: nobody bound it) */
  pool: ReplicaPool<NodeSession> | undefined = undefined;
  /** logical: the session-affinity meta */
  sessionMeta: SessionMeta = NO_SESSION;
  /** logical: requests the frame carries that will be tracked until answered */
  calls = 0;
  /** the channel the frame belongs to (SecureOpen/Accept/Close, sealed Data) */
  cid: string | undefined = undefined;
  /** the node the frame was forwarded to, once it was (a traced frame's span names it) */
  routedTo: NodeSession | undefined = undefined;

  constructor(
    /** the sender */
    readonly session: NodeSession,
    readonly env: Envelope,
    /** the frame as received: forwarded as is (it was validated on decode and is not changed) */
    readonly raw: Buffer | string | undefined,
  ) {}

  get clientSid(): string {
    return this.session.sid;
  }

  /** SecureOpen: a miss in the sticky table is then normal */
  get opening(): boolean {
    return this.env.frame.type === "SecureOpen";
  }

  get aft(): string | undefined {
    return this.env.aft;
  }

  /** the sender's connection closed while the frame waited (an AFT check): nothing of it may land */
  get requesterGone(): boolean {
    return this.session.state === "closed";
  }
}

/** A request whose frame belongs to a channel. */
export type ChannelRouteRequest = RouteRequest & { readonly cid: string };

export function isChannelRequest(req: RouteRequest): req is ChannelRouteRequest {
  return req.cid !== undefined;
}

/** The channel a frame belongs to: the cid of Secure* frames and of sealed Data. */
export function channelOf(env: Envelope): string | undefined {
  const frame = env.frame;
  if (frame.type === "SecureOpen" || frame.type === "SecureClose" || frame.type === "SecureAccept")
    return frame.cid;
  return frame.type === "Data" ? env.sec?.enc?.cid : undefined;
}

/**
 * Requests a frame to a logical address carries, each tracked until answered: the entries of a
 * coalesced record, or one for a Data or SecureOpen with a corrId and a reply address; else 0.
 */
export function callsToTrack(env: Envelope): number {
  if (!env.replyTo) return 0;
  const batch = batchOf(env);
  if (batch !== undefined) return batch.length;
  return env.corrId && (env.frame.type === "Data" || env.frame.type === "SecureOpen") ? 1 : 0;
}

/** A clear batch (Data with codec json and a batch list): it goes to one node that takes them. */
export function isClearBatch(env: Envelope): boolean {
  const frame = env.frame;
  return frame.type === "Data" && frame.codec === "json" && frame.batch !== undefined;
}

/** the refusal of a clear batch placed on a replica that takes none (the caller resends alone) */
export const NO_CLEAR_BATCHES = "the replica chosen takes no batched calls: send them one per envelope";
