import type { Logger } from "@fame/logger";
import {
  type Envelope,
  type ErrorCode,
  type Frame,
  type Jwk,
  type KeyUpdate,
  makeEnvelope,
  tryParseAddress,
} from "@fame/protocol";
import type { PoolRouter } from "../affinity/index.js";
import type { SentinelCluster } from "../cluster/sentinel-cluster.js";
import type { NodeKey, NodeSession } from "../node-session.js";
import type { AccessPolicy } from "../policy/access-policy.js";
import { BIND_ERROR_WIRE_CODE, type BindResult, type LogicalRegistry } from "../routing/index.js";
import type { SentinelCounters } from "../sentinel-counters.js";
import type { SessionDirectory } from "../session-directory.js";
import type { DeliverStage } from "./deliver-stage.js";

export interface ControlDeps {
  sid: string;
  registry: LogicalRegistry<NodeSession>;
  directory: SessionDirectory;
  affinity: PoolRouter<NodeSession>;
  deliver: DeliverStage;
  log: Logger;
  /** who may serve what: asked before the registry at every AddressBind */
  policy: AccessPolicy;
  counters: SentinelCounters;
  /** in a cluster: binds and drains are announced, keys of nodes elsewhere known */
  cluster: SentinelCluster | undefined;
  /** checks the keys an attached node presents to replace its own (AttachAuthority.rotatedKeys) */
  rotateKeys?: (
    jwks: readonly Jwk[],
    node: NodeSession,
  ) => Promise<NodeKey[] | { ok: false; code: ErrorCode; reason: string }>;
  now: () => number;
}

/** the least time between two KeyUpdates of one node, checked or not */
export const KEY_UPDATE_GAP_MS = 5_000;

/** how long a KeyRequest in a cluster waits for the key's node directory record */
const KEY_RECORD_WAIT_MS = 2_000;

/** the access policy gives the node's principal no serve grant for this address (in this mode) */
const SERVE_NOT_ALLOWED: BindResult = Object.freeze({
  ok: false,
  code: "not_authorized",
  reason: "the access policy does not let this node serve this address",
});

/** Addresses in logs come from the sender: keep them short. */
function clip(s: string): string {
  return s.length > 120 ? `${s.slice(0, 120)}…` : s;
}

/** Frame types addressed to the sentinel itself rather than routed to a node. */
export function isControlFrame(type: Frame["type"]): boolean {
  switch (type) {
    case "Heartbeat":
    case "HeartbeatAck":
    case "AddressBind":
    case "AddressUnbind":
    case "Drain":
    case "KeyRequest":
    case "KeyUpdate":
    case "NodeAttach":
    case "NodeAttachAck":
    case "AddressBindAck":
      return true;
    default:
      return false;
  }
}

/** `resumed` also when it was not draining; `draining_itself`: the node is shutting down */
/**
 * "forgotten": no node of that id is attached here, and the drain remembered for it (by this
 * sentinel, or told by another of the cluster) is forgotten
 */
export type ResumeResult = "resumed" | "not_draining" | "unknown" | "draining_itself" | "forgotten";

/** operator drains remembered across re-attaches, at most (the oldest forgotten first) */
const MAX_REMEMBERED_DRAINS = 10_000;

/** The frames a node sends the sentinel itself: heartbeats, address binds, drain, key requests. */
export class ControlFrames {
  /**
   * System ids the operator drained and has not resumed: a node that re-attaches (its link
   * dropped, or it dropped it on purpose) is draining again as soon as it binds.
   */
  private readonly operatorDrained = new Set<string>();
  /**
   * Hears of every operator drain this sentinel starts remembering (true) or forgets (false):
   * in a cluster, told to the other sentinels, so that a drained node re-attaching to one of
   * them is draining there too (audit round 11).
   */
  onDrainMemo: ((systemId: string, drained: boolean) => void) | undefined;

  constructor(private readonly deps: ControlDeps) {}

  handle(session: NodeSession, env: Envelope): void {
    const d = this.deps;
    const frame = env.frame;
    switch (frame.type) {
      case "Heartbeat":
        d.deliver.send(
          session,
          makeEnvelope({ sid: d.sid, corrId: env.id, frame: { type: "HeartbeatAck" } }),
        );
        return;
      case "AddressBind":
        this.bind(session, env, frame.address);
        return;
      case "AddressUnbind":
        if (d.registry.unbind(frame.address, session.id)) d.cluster?.sync.updated(session);
        return;
      case "Drain":
        this.drainNode(session.systemId, "node");
        return;
      case "KeyRequest":
        this.answerKeyRequest(session, env as Envelope<Extract<Frame, { type: "KeyRequest" }>>);
        return;
      case "KeyUpdate":
        void this.updateKeys(session, env as Envelope<KeyUpdate>);
        return;
      case "NodeAttach":
        d.deliver.nack(session, env, "bad_envelope", "already attached");
        return;
      case "NodeAttachAck":
      case "AddressBindAck":
        d.deliver.nack(session, env, "bad_envelope", `${frame.type} is sent by the sentinel only`);
        return;
      default:
        return;
    }
  }

  /**
   * An attached node's renewed keys (its certificate renewed before it expired): checked as at
   * attach against the identity it attached with, then its keys from now on, and its record in
   * a cluster's node directory. Peers learn them by KeyRequest as they meet the new key id.
   */
  private async updateKeys(session: NodeSession, env: Envelope<KeyUpdate>): Promise<void> {
    const d = this.deps;
    // Each one costs certificate checks, a log line and, in a cluster, a directory write: one
    // at a time, and one per KEY_UPDATE_GAP_MS, accepted or not (audit round 15: 20,000 in 8 s
    // slowed every client). A node renews at half its certificate's lifetime, a minute at least.
    const now = d.now();
    if (session.keyUpdateAt === -1 || now - session.keyUpdateAt < KEY_UPDATE_GAP_MS) {
      d.deliver.nack(session, env, "rate_limited", "one key update at a time, and a few seconds apart");
      return;
    }
    if (env.frame.keys.length > 0 && env.frame.keys.every((k) => session.keys.has(k.kid))) {
      // nothing new: answered, and nothing checked, written or logged
      session.keyUpdateAt = now;
      this.ackKeyUpdate(session, env);
      return;
    }
    session.keyUpdateAt = -1;
    let verdict: Awaited<ReturnType<NonNullable<ControlDeps["rotateKeys"]>>>;
    try {
      verdict =
        d.rotateKeys === undefined
          ? { ok: false, code: "bad_envelope", reason: "this sentinel replaces no keys" }
          : await d.rotateKeys(env.frame.keys, session);
    } catch (err) {
      d.log.error({ err, systemId: session.systemId }, "key update check failed");
      verdict = { ok: false, code: "internal_error", reason: "key update check failed" };
    }
    session.keyUpdateAt = d.now();
    if (session.state !== "attached") return; // it left while its certificates were checked
    if (!Array.isArray(verdict)) {
      d.deliver.nack(session, env, verdict.code, verdict.reason);
      return;
    }
    // a key id names one key: another node's may not be taken (as at attach, I20)
    const taken = verdict.find((k) => {
      const owner = d.directory.keyOwner(k.kid) ?? d.cluster?.route.keyOwner(k.kid);
      return owner !== undefined && owner.systemId !== session.systemId;
    });
    if (taken !== undefined) {
      d.deliver.nack(session, env, "not_authorized", `key id ${taken.kid} belongs to another node`);
      return;
    }
    d.directory.replaceKeys(session, verdict, d.now());
    d.cluster?.sync.updated(session);
    d.log.info(
      { systemId: session.systemId, kids: verdict.map((k) => k.kid), notAfter: verdict[0]?.notAfter },
      "node keys renewed",
    );
    this.ackKeyUpdate(session, env);
  }

  private ackKeyUpdate(session: NodeSession, env: Envelope<KeyUpdate>): void {
    const d = this.deps;
    d.deliver.send(
      session,
      makeEnvelope({ sid: d.sid, corrId: env.id, frame: { type: "DeliveryAck", ok: true, refId: env.id } }),
    );
  }

  /**
   * Put an attached node into draining (its own Drain frame, or the operator): no new
   * sessions or channels; its sessions stay for the pool's draining timeout. False if unknown.
   */
  /** whether the node of this system id, attached here, is draining; undefined when none is */
  nodeDraining(systemId: string): boolean | undefined {
    return this.deps.directory.bySystemId(systemId)?.draining;
  }

  drainNode(systemId: string, by: "node" | "operator", tell = true): boolean {
    const d = this.deps;
    const session = d.directory.bySystemId(systemId);
    if (!session) return false;
    // a node draining itself is leaving: an operator's resume must not undo that
    if (session.drainedBy !== "node") session.drainedBy = by;
    if (by === "operator") {
      this.rememberDrain(systemId);
      if (tell) this.onDrainMemo?.(systemId, true);
    }
    session.draining = true;
    d.registry.setDraining(session.id, true);
    d.affinity.onDraining(session.id, d.registry.addressesOf(session.id));
    d.cluster?.sync.updated(session);
    d.log.info({ systemId, by }, "node draining: no new sessions or channels");
    return true;
  }

  /**
   * The operator takes a node out of draining: it takes new sessions and channels again.
   * A node that drained itself (it is shutting down) stays draining.
   */
  resumeNode(systemId: string, tell = true): ResumeResult {
    const d = this.deps;
    const session = d.directory.bySystemId(systemId);
    if (!session) return this.forgetDrain(systemId, tell) ? "forgotten" : "unknown";
    if (session.drainedBy !== "node") this.forgetDrain(systemId, tell);
    if (!session.draining) return "not_draining";
    if (session.drainedBy === "node") return "draining_itself";
    session.draining = false;
    session.drainedBy = undefined;
    d.registry.setDraining(session.id, false);
    d.affinity.onResumed(session.id, d.registry.addressesOf(session.id));
    d.cluster?.sync.updated(session);
    d.log.info({ systemId }, "node resumed: it takes new sessions and channels again");
    return "resumed";
  }

  /**
   * Another sentinel of the cluster remembers (true) or forgot (false) an operator's drain of
   * `systemId`: remembered here too, and applied to the node when it is attached here.
   */
  applyDrainMemo(systemId: string, drained: boolean): void {
    const session = this.deps.directory.bySystemId(systemId);
    if (drained) {
      this.rememberDrain(systemId);
      if (session !== undefined && !session.draining) this.drainNode(systemId, "operator", false);
      return;
    }
    this.operatorDrained.delete(systemId);
    if (session?.draining && session.drainedBy === "operator") this.resumeNode(systemId, false);
  }

  /** true when a drain of `systemId` was remembered (and is no more) */
  private forgetDrain(systemId: string, tell: boolean): boolean {
    if (!this.operatorDrained.delete(systemId)) return false;
    if (tell) this.onDrainMemo?.(systemId, false);
    return true;
  }

  private rememberDrain(systemId: string): void {
    this.operatorDrained.delete(systemId);
    if (this.operatorDrained.size >= MAX_REMEMBERED_DRAINS)
      this.operatorDrained.delete(this.operatorDrained.values().next().value!);
    this.operatorDrained.add(systemId);
  }

  private bind(session: NodeSession, env: Envelope, address: string): void {
    const d = this.deps;
    // The policy first: a principal without a serve grant changes nothing in the registry (no
    // pool joined, no name held exclusively before its rightful replicas attach).
    const result: BindResult = d.policy.mayServe(session, address)
      ? d.registry.bind(address, session, session.acceptedLogicals)
      : SERVE_NOT_ALLOWED;
    if (result.ok) {
      // a rebind changes nothing: no log line and no cluster write per frame of a node binding in a loop
      if (result.again !== true) {
        d.affinity.onBound(address, session.id);
        // drained by the operator before this node re-attached: still draining
        if (!session.draining && this.operatorDrained.has(session.systemId))
          this.drainNode(session.systemId, "operator");
        d.log.info({ systemId: session.systemId, address, mode: result.mode }, "bound");
        d.cluster?.sync.updated(session);
      }
    } else {
      d.counters.bindRefused++;
      // a refusal per frame: a node binding in a loop must not fill the log (counted above)
      if (session.refusalLog.hit())
        d.log.warn(
          {
            systemId: session.systemId,
            principal: session.principal,
            address: clip(address),
            code: result.code,
            refusals: session.refusalLog.total,
          },
          "bind refused",
        );
    }
    d.deliver.send(
      session,
      makeEnvelope({
        sid: d.sid,
        corrId: env.id,
        frame: result.ok
          ? { type: "AddressBindAck", address, ok: true }
          : {
              type: "AddressBindAck",
              address,
              ok: false,
              code: BIND_ERROR_WIRE_CODE[result.code],
              reason: result.reason,
            },
      }),
    );
  }

  private answerKeyRequest(
    session: NodeSession,
    env: Envelope<Extract<Frame, { type: "KeyRequest" }>>,
  ): void {
    const d = this.deps;
    const { kid, address } = env.frame;
    let keys: Jwk[] = [];
    let owner: NodeSession | undefined;
    // A node attached to another sentinel is answered from the keys its directory record carries.
    if (kid) {
      owner = d.directory.keyOwner(kid) ?? d.cluster?.route.keyOwner(kid);
      const key = owner?.keys.get(kid);
      if (key) keys = [key.jwk];
    } else if (address) {
      const parsed = tryParseAddress(address);
      if (parsed && "path" in parsed)
        owner = d.directory.byPath(parsed.path) ?? d.cluster?.route.byPath(parsed.path);
      if (owner) keys = [...owner.keys.values()].map((k) => k.jwk);
    }
    if (!owner && kid && d.cluster !== undefined) {
      // a node that just attached elsewhere: its directory record may be a moment behind
      d.cluster.route
        .awaitKeyOwner(kid, KEY_RECORD_WAIT_MS, session.id, session.principal)
        .then((later) => {
          const key = later?.keys.get(kid);
          if (session.state !== "attached") return;
          this.announceKeys(session, env, later, key ? [key.jwk] : []);
        })
        .catch((err: unknown) => d.log.error({ err }, "KeyRequest failed"));
      return;
    }
    this.announceKeys(session, env, owner, keys);
  }

  private announceKeys(
    session: NodeSession,
    env: Envelope<Extract<Frame, { type: "KeyRequest" }>>,
    owner: NodeSession | undefined,
    keys: Jwk[],
  ): void {
    const d = this.deps;
    if (!owner || keys.length === 0) {
      d.deliver.nack(session, env, "key_unknown", "no such key");
      return;
    }
    d.deliver.send(
      session,
      makeEnvelope({
        sid: d.sid,
        to: env.replyTo,
        corrId: env.corrId ?? env.id,
        frame: { type: "KeyAnnounce", keys, sid: owner.sid },
      }),
    );
  }
}
