import type { CryptoBackend } from "@fame/crypto";
import type { Logger } from "@fame/logger";
import { decodeEnvelope, type Envelope, type Limits } from "@fame/protocol";
import type { NodeRecord } from "@fame/state";
import { countDown, countUp } from "../keyed-counts.js";
import type { NodeSession } from "../node-session.js";
import type { LogicalRegistry } from "../routing/index.js";
import type { SessionDirectory } from "../session-directory.js";
import {
  type Attested,
  decodeForward,
  encodeForward,
  type ForwardHeader,
  type ForwardKind,
} from "./forward-frame.js";
import { type ClusterOutbox, type RemoteNode, refreshRemote, remoteSession } from "./remote-session.js";
import type { SentinelLinks } from "./sentinel-links.js";

/** What this sentinel does with a frame a peer forwarded to one of its nodes. */
export interface ClusterInbox {
  /**
   * `kind` p: run the state-bound stages (authorize, route, deliver, account) for `sender`,
   * a remote session; d: deliver to `target` as is. `target` is attached here.
   */
  forwarded(
    kind: ForwardKind,
    sender: NodeSession | undefined,
    target: NodeSession,
    env: Envelope,
    raw: Buffer,
  ): void;
  /** `env` from `sender` names a node not attached here: refused to its sender */
  unroutable(sender: NodeSession, env: Envelope, reason: string): void;
  /** a node attached elsewhere left the cluster: its calls in flight here are answered */
  remoteGone(session: NodeSession, addresses: string[]): void;
  /**
   * A node re-attached to another sentinel (or here). Calls forwarded to it through its old
   * sentinel are lost with that connection (a SIGKILLed sentinel answers nothing): they are
   * answered `replica_unavailable` now, marked channel-kept (the node still holds its
   * channels), so an idempotent call is resent at once on the same channel instead of waiting
   * out its timeout.
   */
  remoteMoved(session: NodeSession, why: string): void;
}

export interface ClusterRouteDeps {
  sentinelId: string;
  links: SentinelLinks;
  directory: SessionDirectory;
  registry: LogicalRegistry<NodeSession>;
  limits: Readonly<Limits>;
  backend: CryptoBackend;
  log: Logger;
  now: () => number;
}

/** Counters of the traffic between sentinels (status page `cluster`). */
export interface ClusterRouteCounters {
  forwardedOut: number;
  forwardedIn: number;
  /** peer messages refused on receipt (size, shape, envelope) */
  badIn: number;
  /** frames for a node no longer attached here, answered no_route */
  noRouteIn: number;
}

/** remote sessions kept at most (the cluster's nodes; senders seen before their record count too) */
export const MAX_REMOTE_NODES = 1_000_000;

/** KeyRequests waiting at once for a key's directory record; past this they are answered at once */
export const MAX_KEY_WAITERS = 1024;
/** a NUL cannot start a node id: principals' counts share the map without meeting a node's */
const PRINCIPAL = "\u0000";
/**
 * …and from one requesting node: kids cost nothing to make up, so without it one node asking for
 * made-up kids would keep every place taken, and another node's request for the key of a node
 * that just attached elsewhere would be answered key_unknown at once.
 */
export const MAX_KEY_WAITERS_PER_NODE = 16;
/** …and from the nodes of one principal together (a credential holder can start many nodes) */
export const MAX_KEY_WAITERS_PER_PRINCIPAL = 256;

interface Mirror {
  readonly session: NodeSession;
  /** addresses bound for it in this sentinel's registry (from its directory record) */
  readonly addresses: Set<string>;
  /** the record it was last built from: the owner's refreshes rewrite it unchanged every 5 s */
  record: NodeRecord | undefined;
  /** it moved and its new sentinel has not recorded its binds yet: its old ones still hold */
  rebind: { timer: NodeJS.Timeout; latest: NodeRecord } | undefined;
}

/**
 * How long a node that moved to another sentinel keeps its pool memberships here while its new
 * sentinel's record lists no address yet: the node binds again right after its attach, one
 * directory write later. Without this, the calls resent to it at its move (and any call in that
 * window) would find its pools empty and be refused no_route.
 */
export const MOVE_REBIND_GRACE_MS = 2_000;

/**
 * The cluster side of routing: which nodes are attached to other sentinels (remote sessions
 * kept from the node directory, and from the attested senders of forwarded frames), how a
 * frame for one of them leaves (published to its sentinel), and what arrives from peers
 * (checked, then handed to the pipeline). Remote replicas are members of this sentinel's
 * pools, so the balancer and pool policies see the cluster-wide pool.
 */
export class ClusterRoute implements ClusterOutbox {
  readonly counters: ClusterRouteCounters = { forwardedOut: 0, forwardedIn: 0, badIn: 0, noRouteIn: 0 };
  private readonly mirrors = new Map<string, Mirror>();
  private readonly sids = new Map<string, NodeSession>();
  private readonly kids = new Map<string, NodeSession>();
  /** callers waiting for the record of a key not known yet, by kid */
  private readonly keyWaiters = new Map<string, Set<(owner: NodeSession | undefined) => void>>();
  private keyWaiterCount = 0;
  /** waiting requests per requesting node, and per principal (under PRINCIPAL + its name) */
  private readonly keyWaitersOf = new Map<string, number>();
  private inbox: ClusterInbox | undefined;

  constructor(private readonly deps: ClusterRouteDeps) {}

  /** start hearing peers; frames are handed to `inbox` */
  start(inbox: ClusterInbox): void {
    this.inbox = inbox;
    this.deps.links.listen((data, from) => this.onMessage(data, from));
  }

  close(): void {
    this.deps.links.close();
    for (const m of this.mirrors.values()) this.endRebind(m);
    for (const waiters of [...this.keyWaiters.values()]) for (const done of [...waiters]) done(undefined);
  }

  get remoteCount(): number {
    return this.mirrors.size;
  }

  bySystemId(systemId: string): NodeSession | undefined {
    return this.mirrors.get(systemId)?.session;
  }

  /** the remote node at physical path `path` (`/<clusterId>/<systemId>`) */
  byPath(path: string): NodeSession | undefined {
    const s = this.mirrors.get(path.slice(path.lastIndexOf("/") + 1))?.session;
    return s !== undefined && s.path === path ? s : undefined;
  }

  bySid(sid: string): NodeSession | undefined {
    return this.sids.get(sid);
  }

  keyOwner(kid: string): NodeSession | undefined {
    return this.kids.get(kid);
  }

  /**
   * The node elsewhere holding `kid`, once its directory record is here. A node's sentinel
   * writes the record after the attach ack, so the node's first signed frame can reach a peer,
   * which asks for the key, before the record does. Undefined after `timeoutMs`, or at once
   * while MAX_KEY_WAITERS requests already wait, or MAX_KEY_WAITERS_PER_NODE of `requester`'s,
   * or MAX_KEY_WAITERS_PER_PRINCIPAL of its `principal`'s nodes.
   */
  awaitKeyOwner(
    kid: string,
    timeoutMs: number,
    requester: string,
    principal: string,
  ): Promise<NodeSession | undefined> {
    const known = this.kids.get(kid);
    if (known !== undefined) return Promise.resolve(known);
    const mine = this.keyWaitersOf.get(requester) ?? 0;
    const ours = this.keyWaitersOf.get(PRINCIPAL + principal) ?? 0;
    if (
      this.keyWaiterCount >= MAX_KEY_WAITERS ||
      mine >= MAX_KEY_WAITERS_PER_NODE ||
      ours >= MAX_KEY_WAITERS_PER_PRINCIPAL
    )
      return Promise.resolve(undefined);
    countUp(this.keyWaitersOf, requester);
    countUp(this.keyWaitersOf, PRINCIPAL + principal);
    return new Promise((resolve) => {
      let waiters = this.keyWaiters.get(kid);
      if (waiters === undefined) {
        waiters = new Set();
        this.keyWaiters.set(kid, waiters);
      }
      const set = waiters;
      const done = (owner: NodeSession | undefined) => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0 && this.keyWaiters.get(kid) === set) this.keyWaiters.delete(kid);
        this.keyWaiterCount--;
        countDown(this.keyWaitersOf, requester);
        countDown(this.keyWaitersOf, PRINCIPAL + principal);
        resolve(owner);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      set.add(done);
      this.keyWaiterCount++;
    });
  }

  // ───────────── the node directory's view of other sentinels ─────────────

  /**
   * A node record changed: `node` attached at `owner`, or gone (undefined). Records of this
   * sentinel's own nodes change nothing here (its connections are the truth), except that a
   * node which moved here stops being remote.
   */
  nodeChanged(systemId: string, node: NodeRecord | undefined): void {
    const mirror = this.mirrors.get(systemId);
    const owner = node?.sentinelId;
    if (node === undefined || owner === undefined || node.systemId !== systemId) {
      if (mirror !== undefined) this.drop(mirror, true);
      return;
    }
    if (owner === this.deps.sentinelId) {
      if (mirror !== undefined) this.drop(mirror, false);
      return;
    }
    if (mirror !== undefined && mirror.record !== undefined && sameRoute(mirror.record, node)) {
      mirror.record = node;
      return;
    }
    const moved = mirror !== undefined && mirror.session.remote!.owner !== owner;
    const m = mirror ?? this.add(node, owner);
    if (mirror !== undefined) this.update(m, node, owner);
    // A node still attached here as well (it moved, this connection has not ended yet) is bound
    // by that connection: its record is applied in full once the connection is gone.
    if (this.deps.directory.bySystemId(systemId) !== undefined) {
      m.record = undefined;
      return;
    }
    if (m.rebind !== undefined) {
      if (node.addresses.length === 0) {
        m.rebind.latest = node;
        return;
      }
      this.endRebind(m);
    } else if (moved && node.addresses.length === 0 && m.addresses.size > 0) {
      const timer = setTimeout(() => {
        const latest = m.rebind?.latest;
        m.rebind = undefined;
        if (latest === undefined || this.mirrors.get(systemId) !== m) return;
        m.record = latest;
        this.bindAddresses(m, latest.addresses, latest.draining === true);
      }, MOVE_REBIND_GRACE_MS);
      timer.unref();
      m.rebind = { timer, latest: node };
      m.record = undefined;
      return;
    }
    m.record = node;
    this.bindAddresses(m, node.addresses, node.draining === true);
  }

  private endRebind(m: Mirror): void {
    if (m.rebind === undefined) return;
    clearTimeout(m.rebind.timer);
    m.rebind = undefined;
  }

  /** the node attached here (it moved over): its connection is the truth from now on */
  localAttached(systemId: string): void {
    const mirror = this.mirrors.get(systemId);
    if (mirror === undefined) return;
    // before the new connection is routed anything: only the calls sent the old way are failed
    this.inbox?.remoteMoved(mirror.session, `re-attached here from ${mirror.session.remote!.owner}`);
    this.drop(mirror, false);
  }

  private add(node: RemoteNode, owner: string): Mirror {
    const d = this.deps;
    const m: Mirror = {
      session: remoteSession(node, owner, this, d.backend, d.now()),
      addresses: new Set(),
      record: undefined,
      rebind: undefined,
    };
    this.mirrors.set(node.systemId, m);
    this.index(m.session);
    return m;
  }

  private update(m: Mirror, node: RemoteNode, owner: string): void {
    const before = m.session.remote!.owner;
    this.unindex(m.session);
    refreshRemote(m.session, node, owner, this.deps.backend);
    this.index(m.session);
    if (before !== owner) this.inbox?.remoteMoved(m.session, `re-attached from ${before} to ${owner}`);
  }

  private index(s: NodeSession): void {
    this.sids.set(s.sid, s);
    for (const kid of s.keys.keys()) {
      this.kids.set(kid, s);
      const waiters = this.keyWaiters.get(kid);
      if (waiters !== undefined) for (const done of [...waiters]) done(s);
    }
  }

  private unindex(s: NodeSession): void {
    if (this.sids.get(s.sid) === s) this.sids.delete(s.sid);
    for (const kid of s.keys.keys()) if (this.kids.get(kid) === s) this.kids.delete(kid);
  }

  /** the remote node's bound addresses, as members of this sentinel's pools */
  private bindAddresses(m: Mirror, addresses: readonly string[], draining: boolean): void {
    const d = this.deps;
    const s = m.session;
    const wanted = new Set(addresses);
    for (const address of m.addresses) {
      if (wanted.has(address)) continue;
      m.addresses.delete(address);
      if (d.registry.resolve(address)?.get(s.id) === s) d.registry.unbind(address, s.id);
    }
    for (const address of wanted) {
      if (m.addresses.has(address)) continue;
      // Refused (an exclusive name held here, a full pool): the record still routes physical frames.
      const bound = d.registry.bind(address, s, s.acceptedLogicals);
      if (bound.ok) m.addresses.add(address);
      else d.log.warn({ systemId: s.id, address, code: bound.code }, "remote node's address not pooled here");
    }
    d.registry.setDraining(s.id, draining);
  }

  /** the node left the cluster (`gone`) or moved here: it is no longer a remote session */
  private drop(m: Mirror, gone: boolean): void {
    const d = this.deps;
    const s = m.session;
    this.endRebind(m);
    this.mirrors.delete(s.id);
    this.unindex(s);
    const addresses: string[] = [];
    for (const address of m.addresses) {
      if (d.registry.resolve(address)?.get(s.id) !== s) continue;
      d.registry.unbind(address, s.id);
      addresses.push(address);
    }
    s.state = "closed";
    if (gone) this.inbox?.remoteGone(s, addresses);
  }

  // ───────────── out ─────────────

  /** a routed frame from `sender` (attached here) to `target` (a remote session) */
  forward(kind: ForwardKind, sender: NodeSession, target: NodeSession, raw: string | Buffer): void {
    this.publish(
      target.remote!.owner,
      { k: kind, src: this.deps.sentinelId, to: target.id, from: attestedOf(sender) },
      raw,
    );
  }

  fromSentinel(owner: string, systemId: string, data: string | Buffer): void {
    this.publish(owner, { k: "d", src: this.deps.sentinelId, to: systemId }, data);
  }

  private publish(owner: string, header: ForwardHeader, raw: string | Buffer): void {
    this.counters.forwardedOut++;
    try {
      this.deps.links.publish(owner, encodeForward(header, raw));
    } catch (err) {
      // the link is down (NATS unreachable): the frame is lost like on a closed connection
      this.deps.log.warn({ err, to: owner }, "frame to another sentinel not sent");
    }
  }

  // ───────────── in ─────────────

  private onMessage(data: Uint8Array, linkPeer?: string): void {
    const d = this.deps;
    const decoded = decodeForward(data, d.limits.maxFrameBytes);
    if (typeof decoded === "string") {
      this.bad(decoded);
      return;
    }
    const { header, envelope } = decoded;
    // a direct link is authenticated as one peer: it speaks for that sentinel only
    if (linkPeer !== undefined && header.src !== linkPeer) {
      this.bad(`a link from ${linkPeer} named ${header.src} as its source`);
      return;
    }
    let env: Envelope;
    try {
      env = decodeEnvelope(envelope, d.limits);
    } catch (err) {
      this.bad(err instanceof Error ? err.message : "undecodable envelope");
      return;
    }
    const from = header.from;
    // the sentinel that authenticated the sender says who it is; the envelope must agree
    if (from !== undefined && env.sid !== from.sid) {
      this.bad("envelope sid is not the attested sender's");
      return;
    }
    this.counters.forwardedIn++;
    const sender = from === undefined ? undefined : this.senderOf(from, header.src);
    const target = d.directory.bySystemId(header.to);
    if (target === undefined || target.state !== "attached") {
      this.counters.noRouteIn++;
      // a refusal is not answered with another: no ping-pong between sentinels
      if (sender !== undefined && env.frame.type !== "DeliveryAck")
        this.inbox?.unroutable(sender, env, `no node ${header.to} at sentinel ${d.sentinelId}`);
      return;
    }
    try {
      this.inbox?.forwarded(header.k, sender, target, env, envelope);
    } catch (err) {
      // one bad frame must not stop the subscription that carries every other
      d.log.error({ err }, "forwarded frame failed");
    }
  }

  /** the remote session for an attested sender, attached at `src` as of this frame */
  private senderOf(from: Attested, src: string): NodeSession {
    const d = this.deps;
    const m = this.mirrors.get(from.systemId);
    if (m === undefined) {
      // Kept until the directory drops the node; past the bound (records that never came)
      // the sender is stood for by a session used for this frame only.
      if (this.mirrors.size >= MAX_REMOTE_NODES) return remoteSession(from, src, this, d.backend, d.now());
      return this.add(from, src).session;
    }
    const s = m.session;
    if (s.remote!.owner !== src || s.sid !== from.sid || s.instanceId !== from.instanceId) {
      this.update(m, from, src);
      // the next directory record is applied in full again
      m.record = undefined;
    }
    return s;
  }

  private bad(reason: string): void {
    this.counters.badIn++;
    this.deps.log.warn({ reason }, "message from another sentinel refused");
  }
}

/** nothing routing reads changed between two records of one node (a refresh) */
function sameRoute(a: NodeRecord, b: NodeRecord): boolean {
  return (
    a.sentinelId === b.sentinelId &&
    a.instanceId === b.instanceId &&
    a.sid === b.sid &&
    a.path === b.path &&
    a.principal === b.principal &&
    a.name === b.name &&
    a.draining === b.draining &&
    sameList(a.addresses, b.addresses) &&
    sameList(a.logicals, b.logicals) &&
    sameList(
      a.keys.map((k) => k.kid + k.x),
      b.keys.map((k) => k.kid + k.x),
    )
  );
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function attestedOf(s: NodeSession): Attested {
  return { systemId: s.systemId, sid: s.sid, path: s.path, principal: s.principal, instanceId: s.instanceId };
}
