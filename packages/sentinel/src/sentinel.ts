import { type CryptoBackend, defaultBackend } from "@fame/crypto";
import type { Logger } from "@fame/logger";
import {
  base64urlDecode,
  batchOf,
  decodeEnvelope,
  type Envelope,
  type ErrorCode,
  encodeEnvelope,
  type Frame,
  isProtocolError,
  isSealedData,
  type Jwk,
  type Limits,
  makeEnvelope,
  type NodeAttach,
  nackFor,
  newId,
  resolveLimits,
  signingInput,
  tryParseAddress,
} from "@fame/protocol";
import { isSessionMetaError, PoolRouter, type SessionMeta } from "./affinity/index.js";
import type { AttachAuthority } from "./attach-authority.js";
import { InflightTracker } from "./inflight-tracker.js";
import { LIMIT_DEFAULTS } from "./limits/defaults.js";
import { PendingAttaches } from "./limits/pending-attaches.js";
import { renderPrometheus, sentinelMetricFamilies } from "./metrics/index.js";
import { type Link, NodeSession } from "./node-session.js";
import { BIND_ERROR_WIRE_CODE, LogicalRegistry, type ReplicaPool } from "./routing/index.js";
import type { SentinelConfig } from "./sentinel-config.js";
import type { AFTLoadBalancerStickinessManager, RouteDecision } from "./stickiness/index.js";

/**
 * Requests a frame to a logical address carries, each tracked until answered: the entries of a
 * coalesced record, or one for a Data or SecureOpen with a corrId and a reply address; else 0.
 */
function callsToTrack(env: Envelope): number {
  if (!env.replyTo) return 0;
  const batch = batchOf(env);
  if (batch !== undefined) return batch.length;
  return env.corrId && (env.frame.type === "Data" || env.frame.type === "SecureOpen") ? 1 : 0;
}

/** WebSocket close codes the sentinel uses; 1008 = policy violation per RFC 6455. */
export const CLOSE = {
  policy: 1008,
  tooBig: 1009,
  goingAway: 1001,
  superseded: 4000,
  heartbeat: 4001,
  attachTimeout: 4002,
  idle: 4003,
} as const;

export type SentinelSettings = Pick<
  SentinelConfig,
  | "sentinelId"
  | "securityProfile"
  | "loadBalancing"
  | "heartbeatMs"
  | "heartbeatMissLimit"
  | "attachTimeoutMs"
  | "maxFrameBytes"
  | "maxInflightPerConnection"
> &
  Partial<Pick<SentinelConfig, "maxChannelsPerClient" | "idleTimeoutMs" | "pools">>;

export interface SentinelDeps {
  log: Logger;
  attach: AttachAuthority;
  stickiness?: AFTLoadBalancerStickinessManager | undefined;
  now?: () => number;
  backend?: CryptoBackend;
  /** print every envelope passing through (FAME_SHOW_ENVELOPES) */
  showEnvelopes?: boolean;
}

export interface SentinelCounters {
  attached: number;
  attachRefused: number;
  detached: number;
  routed: number;
  refused: number;
  badFrames: number;
  replicaUnavailableNacks: number;
  /** attached connections closed for sending nothing within the idle timeout */
  idleClosed: number;
  /** SecureOpens refused with too_many_channels */
  channelQuotaRefused: number;
}

/** A pending SecureOpen: which replica was asked, so only its SecureAccept can pin. */
interface PendingOpen {
  replicaId: string;
  /** who opened it: pending opens count against the client's channel quota */
  clientSid: string;
  /** the logical address the channel was opened to */
  address: string;
  deadline: number;
  /** its SecureAccept is being pinned: it still counts against the quota, a second accept does not pin */
  accepting?: boolean;
}

const OPEN_TIMEOUT_MS = 30_000;
const DEFAULT_REQUEST_TTL_MS = 5 * 60_000;
/** a reader this far behind is not sent more: it would only grow our memory */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

/**
 * The sentinel's routing core, independent of sockets: sessions, attach,
 * address binding, load balancing, channel stickiness, in-flight tracking.
 */
export class Sentinel {
  readonly registry = new LogicalRegistry<NodeSession>();
  /** requests awaiting an answer; those routed through a pool count as its members' load (least_inflight) */
  readonly inflight = new InflightTracker(undefined, (entry) => {
    if (entry.address !== undefined) this.registry.resolve(entry.address)?.release(entry.replicaId);
  });
  /** per-pool policies: session affinity, exclusive sessions, single-active, health checks */
  readonly affinity: PoolRouter<NodeSession>;
  readonly counters: SentinelCounters = {
    attached: 0,
    attachRefused: 0,
    detached: 0,
    routed: 0,
    refused: 0,
    badFrames: 0,
    replicaUnavailableNacks: 0,
    idleClosed: 0,
    channelQuotaRefused: 0,
  };
  private readonly sessions = new Map<string, NodeSession>();
  /** attached sessions by systemId and by sid (physical routing, key lookup) */
  private readonly bySystemId = new Map<string, NodeSession>();
  private readonly bySid = new Map<string, NodeSession>();
  private readonly keyOwner = new Map<string, NodeSession>();
  private readonly pendingOpens = new Map<string, PendingOpen>();
  /** pending opens per client sid, for the channel quota */
  private readonly pendingOpensBy = new Map<string, number>();
  /** connections open and not yet attached (the server caps these before upgrading) */
  readonly pendingAttaches = new PendingAttaches();
  private readonly maxChannelsPerClient: number;
  private readonly idleTimeoutMs: number;
  private readonly now: () => number;
  private readonly backend: CryptoBackend;
  private readonly signed: boolean;
  /** decode limits, resolved once: every frame is checked against them */
  private readonly limits: Readonly<Limits>;
  private readonly sid: string;

  constructor(
    private readonly settings: SentinelSettings,
    private readonly deps: SentinelDeps,
  ) {
    this.now = deps.now ?? Date.now;
    this.backend = deps.backend ?? defaultBackend();
    this.signed = settings.securityProfile !== "open";
    this.limits = resolveLimits({ maxFrameBytes: settings.maxFrameBytes });
    this.sid = settings.sentinelId;
    this.affinity = new PoolRouter<NodeSession>(settings.pools ?? [], {
      now: this.now,
      log: deps.log,
      resolve: (address) => this.registry.resolve(address),
      sentinelId: settings.sentinelId,
      loadBalancing: settings.loadBalancing,
      sendProbe: (nodeId, env) => {
        const node = this.bySystemId.get(nodeId);
        if (!node) return false;
        this.sendTo(node, env);
        return true;
      },
    });
    this.maxChannelsPerClient = settings.maxChannelsPerClient ?? LIMIT_DEFAULTS.maxChannelsPerClient;
    this.idleTimeoutMs = settings.idleTimeoutMs ?? LIMIT_DEFAULTS.idleTimeoutMs;
    // The manager checks AFTs against the key each replica proved at attach.
    deps.stickiness?.setReplicaDirectory({
      replicaKeyOf: (id) => this.bySystemId.get(id)?.keys.values().next().value?.publicKey,
      replicaBySid: (sid) => this.bySid.get(sid)?.id,
    });
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** connections that have not attached yet */
  get attachingCount(): number {
    return this.pendingAttaches.total;
  }

  /** a new connection: it has attachTimeoutMs to present a valid NodeAttach */
  open(link: Link): NodeSession {
    const session = new NodeSession(newId(), link, this.now());
    this.sessions.set(session.connectionId, session);
    this.pendingAttaches.add(session.connectionId, link.remote);
    session.attachTimer = setTimeout(() => {
      if (session.state === "attaching") {
        this.deps.log.warn({ remote: link.remote }, "attach timeout");
        this.refuseAttach(session, "attach_timeout", "no valid NodeAttach in time", CLOSE.attachTimeout);
      }
    }, this.settings.attachTimeoutMs);
    session.attachTimer.unref();
    return session;
  }

  /**
   * One text frame from a connection. Returns a promise only while work is still under way
   * (an attach, an AFT being checked): routing a data frame completes synchronously, with
   * no promise and no microtask per frame.
   */
  receive(session: NodeSession, data: Buffer | string): Promise<void> | undefined {
    if (session.state === "closed") return;
    session.lastSeen = this.now();
    let env: Envelope;
    try {
      env = decodeEnvelope(data, this.limits);
    } catch (err) {
      this.badFrame(session, err);
      return;
    }
    if (this.deps.showEnvelopes) this.show("in", session, env);
    if (session.state === "attaching") {
      if (env.frame.type !== "NodeAttach") {
        this.refuseAttach(session, "not_authorized", "first frame must be NodeAttach", CLOSE.policy);
        return;
      }
      return this.attach(session, env as Envelope<NodeAttach>);
    }
    if (env.sid !== session.sid) {
      this.nack(session, env, "not_authorized", "envelope sid is not the sender's");
      return;
    }
    // Sealed channel data is not signed: its AEAD tag authenticates it end to end, and
    // here the sender is this session's own attached connection (sid checked just above).
    // Every other frame, plaintext Data included, must carry a valid signature.
    if (this.signed && !isSealedData(env) && !this.verifySignature(session, env)) return;
    return this.dispatch(session, env, data);
  }

  /** the connection ended (closed, errored or terminated) */
  close(session: NodeSession, why: string): void {
    if (session.state === "closed") return;
    const wasAttached = session.state === "attached";
    this.pendingAttaches.remove(session.connectionId);
    session.state = "closed";
    clearTimeout(session.attachTimer);
    this.sessions.delete(session.connectionId);
    if (!wasAttached) return;
    this.counters.detached++;
    if (this.bySystemId.get(session.systemId) === session) this.bySystemId.delete(session.systemId);
    if (this.bySid.get(session.sid) === session) this.bySid.delete(session.sid);
    for (const kid of session.keys.keys()) if (this.keyOwner.get(kid) === session) this.keyOwner.delete(kid);
    const addresses = this.registry.removeNode(session.id);
    this.deps.stickiness?.onReplicaLeft(session.id);
    this.deps.stickiness?.onClientLeft(session.sid);
    this.affinity.onNodeLeft(session.id, addresses);
    this.inflight.dropRequester(session.id);
    // Callers waiting on this replica learn now, not at their timeout.
    const orphans = this.inflight.takeAllFor(session.id);
    for (const entry of orphans) {
      const requester = this.bySystemId.get(entry.requesterId);
      if (!requester) continue;
      this.counters.replicaUnavailableNacks++;
      this.sendTo(
        requester,
        makeEnvelope({
          sid: this.sid,
          to: entry.replyTo,
          corrId: entry.corrId,
          frame: {
            type: "DeliveryAck",
            ok: false,
            refId: entry.envelopeId,
            code: "replica_unavailable",
            reason: `replica ${session.systemId} left (${why})`,
          },
        }),
      );
    }
    this.deps.log.info(
      { systemId: session.systemId, addresses: addresses.length, orphans: orphans.length, why },
      "node detached",
    );
  }

  /** periodic: heartbeat misses, stale pending opens, expired in-flight entries, pins */
  sweep(): void {
    const now = this.now();
    const limit = this.settings.heartbeatMs * this.settings.heartbeatMissLimit;
    for (const session of this.sessions.values()) {
      if (session.state === "attached" && now - session.lastSeen > this.idleTimeoutMs) {
        // Not even heartbeats: nothing on this connection is alive enough to keep.
        this.counters.idleClosed++;
        this.deps.log.warn(
          { systemId: session.systemId, silentMs: now - session.lastSeen, remote: session.link.remote },
          "idle timeout",
        );
        session.link.close(CLOSE.idle, "idle timeout");
        this.close(session, "idle timeout");
      } else if (session.state === "attached" && now - session.lastSeen > limit) {
        this.deps.log.warn(
          { systemId: session.systemId, silentMs: now - session.lastSeen },
          "heartbeat lost",
        );
        session.link.close(CLOSE.heartbeat, "heartbeat lost");
        this.close(session, "heartbeat lost");
      }
    }
    // Opens are (re)inserted with now + OPEN_TIMEOUT_MS, so map order is deadline order: stop at the first live one.
    for (const [key, open] of this.pendingOpens) {
      if (open.deadline > now) break;
      this.dropPendingOpen(key);
    }
    this.inflight.sweep(now);
    this.deps.stickiness?.sweep(10_000);
    this.affinity.sweep();
  }

  status(): Record<string, unknown> {
    return {
      sentinelId: this.settings.sentinelId,
      securityProfile: this.settings.securityProfile,
      loadBalancing: this.settings.loadBalancing,
      sessions: this.sessions.size,
      attaching: this.pendingAttaches.total,
      pendingOpens: this.pendingOpens.size,
      nodes: [...this.bySystemId.values()].map((s) => ({
        systemId: s.systemId,
        sid: s.sid,
        path: s.path,
        logicals: s.acceptedLogicals,
        draining: s.draining,
        inflight: this.inflight.countFor(s.id),
        remote: s.link.remote,
      })),
      pools: this.registry.snapshot(),
      inflight: this.inflight.size,
      counters: { ...this.counters },
      stickiness: this.deps.stickiness
        ? {
            ...this.deps.stickiness.metrics(),
            perReplica: Object.fromEntries(this.deps.stickiness.pinsPerReplica()),
          }
        : null,
      distribution: this.affinity.snapshot(),
    };
  }

  /** The Prometheus text page (GET /metrics): same data as status, as metric families. */
  metricsText(): string {
    const stickiness = this.deps.stickiness;
    return renderPrometheus(
      sentinelMetricFamilies({
        connections: this.sessions.size,
        attachedNodes: this.bySystemId.size,
        inflight: this.inflight.size,
        counters: { ...this.counters },
        distribution: this.affinity.snapshot(),
        stickiness: stickiness
          ? { metrics: stickiness.metrics(), pinsPerReplica: stickiness.pinsPerReplica() }
          : undefined,
      }),
    );
  }

  /**
   * Put an attached node into draining (its own Drain frame, or the operator): no new
   * sessions or channels; its sessions stay for the pool's draining timeout. False if unknown.
   */
  drainNode(systemId: string, by: "node" | "operator"): boolean {
    const session = this.bySystemId.get(systemId);
    if (!session) return false;
    session.draining = true;
    this.registry.setDraining(session.id, true);
    this.affinity.onDraining(session.id, this.registry.addressesOf(session.id));
    this.deps.log.info({ systemId, by }, "node draining: no new sessions or channels");
    return true;
  }

  /** periodic (every few hundred ms): app-level health probes of health-checked pools */
  tickHealth(): void {
    this.affinity.tickHealth();
  }

  // ───────────────────────── attach ─────────────────────────

  private async attach(session: NodeSession, env: Envelope<NodeAttach>): Promise<void> {
    let decision: Awaited<ReturnType<AttachAuthority["decide"]>>;
    try {
      decision = await this.deps.attach.decide(env);
    } catch (err) {
      this.deps.log.error({ err }, "attach check failed");
      decision = { ok: false, code: "internal_error", reason: "attach check failed" };
    }
    if (session.state !== "attaching") return; // timed out or closed meanwhile
    if (!decision.ok) {
      this.refuseAttach(session, decision.code, decision.reason, CLOSE.policy, env);
      return;
    }
    // A key id names one key: another node may not take over one in use, or
    // KeyRequest{kid} would hand out its key in place of the owner's.
    const taken = decision.keys.find((k) => {
      const owner = this.keyOwner.get(k.kid);
      return owner !== undefined && owner.systemId !== decision.systemId;
    });
    if (taken) {
      this.refuseAttach(
        session,
        "not_authorized",
        `key id ${taken.kid} belongs to another node`,
        CLOSE.policy,
        env,
      );
      return;
    }
    clearTimeout(session.attachTimer);
    this.pendingAttaches.remove(session.connectionId);
    const previous = this.bySystemId.get(decision.systemId);
    if (previous) {
      // A reconnect of the same node replaces the stale connection.
      previous.link.close(CLOSE.superseded, "superseded by a new connection");
      this.close(previous, "superseded");
    }
    session.state = "attached";
    session.id = decision.systemId;
    session.systemId = decision.systemId;
    session.instanceId = decision.instanceId;
    session.path = decision.assignedPath;
    session.sid = decision.sid;
    session.acceptedLogicals = decision.acceptedLogicals;
    for (const key of decision.keys) {
      session.keys.set(key.kid, key);
      this.keyOwner.set(key.kid, session);
    }
    this.bySystemId.set(session.systemId, session);
    this.bySid.set(session.sid, session);
    this.counters.attached++;
    const stickiness = this.deps.stickiness;
    this.sendTo(
      session,
      makeEnvelope({
        sid: this.sid,
        corrId: env.id,
        frame: {
          type: "NodeAttachAck",
          ok: true,
          assignedPath: session.path,
          heartbeatMs: this.settings.heartbeatMs,
          maxFrameBytes: this.limits.maxFrameBytes,
          ...(stickiness ? { stickiness: { mode: "aft", securityLevel: stickiness.securityLevel } } : {}),
        },
      }),
    );
    this.deps.log.info(
      {
        systemId: session.systemId,
        path: session.path,
        logicals: session.acceptedLogicals,
        remote: session.link.remote,
      },
      "node attached",
    );
  }

  private refuseAttach(
    session: NodeSession,
    code: ErrorCode,
    reason: string,
    closeCode: number,
    env?: Envelope,
  ): void {
    this.counters.attachRefused++;
    this.deps.log.warn({ code, reason, remote: session.link.remote }, "attach refused");
    this.sendTo(
      session,
      makeEnvelope({
        sid: this.sid,
        ...(env ? { corrId: env.id } : {}),
        frame: { type: "NodeAttachAck", ok: false, code, reason },
      }),
    );
    session.link.close(closeCode, code);
    this.close(session, code);
  }

  // ───────────────────────── ingress checks ─────────────────────────

  private verifySignature(session: NodeSession, env: Envelope): boolean {
    const sig = env.sec?.sig;
    if (!sig) {
      this.nack(
        session,
        env,
        "signature_missing",
        `${this.settings.securityProfile} requires signed envelopes`,
      );
      return false;
    }
    const key = session.keys.get(sig.kid);
    if (!key) {
      this.nack(session, env, "key_unknown", "signed with a key this node did not present");
      return false;
    }
    let ok = false;
    try {
      ok = this.backend.ed25519Verify(key.verifyKey, signingInput(env), base64urlDecode(sig.val));
    } catch {
      ok = false;
    }
    if (!ok) {
      this.nack(session, env, "signature_invalid", "signature does not verify");
      return false;
    }
    return true;
  }

  private badFrame(session: NodeSession, err: unknown): void {
    this.counters.badFrames++;
    const code: ErrorCode = isProtocolError(err) ? err.code : "bad_envelope";
    const reason = err instanceof Error ? err.message : "undecodable frame";
    // Log the first few per session, then every 100th: a flood must not flood the logs too.
    if (session.badFrameLog.hit()) {
      this.deps.log.warn(
        {
          code,
          reason,
          remote: session.link.remote,
          systemId: session.systemId || undefined,
          total: session.badFrameLog.total,
        },
        "bad frame refused",
      );
    }
    if (session.state === "attaching") {
      this.refuseAttach(session, code, reason, CLOSE.policy);
      return;
    }
    this.sendTo(
      session,
      makeEnvelope({
        sid: this.sid,
        frame: { type: "DeliveryAck", ok: false, refId: "unknown", code, reason },
      }),
    );
  }

  // ───────────────────────── dispatch ─────────────────────────

  /** `raw`: the frame as received, forwarded as is (it was validated on decode and is not changed) */
  private dispatch(session: NodeSession, env: Envelope, raw?: Buffer | string): Promise<void> | undefined {
    const frame = env.frame;
    switch (frame.type) {
      case "Heartbeat":
        this.sendTo(
          session,
          makeEnvelope({ sid: this.sid, corrId: env.id, frame: { type: "HeartbeatAck" } }),
        );
        return;
      case "HeartbeatAck":
        return;
      case "AddressBind": {
        const result = this.registry.bind(frame.address, session, session.acceptedLogicals);
        if (result.ok)
          this.deps.log.info(
            { systemId: session.systemId, address: frame.address, mode: result.mode },
            "bound",
          );
        else
          this.deps.log.warn(
            { systemId: session.systemId, address: frame.address, code: result.code },
            "bind refused",
          );
        this.sendTo(
          session,
          makeEnvelope({
            sid: this.sid,
            corrId: env.id,
            frame: result.ok
              ? { type: "AddressBindAck", address: frame.address, ok: true }
              : {
                  type: "AddressBindAck",
                  address: frame.address,
                  ok: false,
                  code: BIND_ERROR_WIRE_CODE[result.code],
                  reason: result.reason,
                },
          }),
        );
        return;
      }
      case "AddressUnbind":
        this.registry.unbind(frame.address, session.id);
        return;
      case "Drain":
        this.drainNode(session.systemId, "node");
        return;
      case "KeyRequest":
        this.answerKeyRequest(session, env as Envelope<Extract<Frame, { type: "KeyRequest" }>>);
        return;
      case "NodeAttach":
        this.nack(session, env, "bad_envelope", "already attached");
        return;
      case "NodeAttachAck":
      case "AddressBindAck":
        this.nack(session, env, "bad_envelope", `${frame.type} is sent by the sentinel only`);
        return;
      default:
        return this.forward(session, env, raw);
    }
  }

  private answerKeyRequest(
    session: NodeSession,
    env: Envelope<Extract<Frame, { type: "KeyRequest" }>>,
  ): void {
    const { kid, address } = env.frame;
    let keys: Jwk[] = [];
    let owner: NodeSession | undefined;
    if (kid) {
      owner = this.keyOwner.get(kid);
      const key = owner?.keys.get(kid);
      if (key) keys = [key.jwk];
    } else if (address) {
      const parsed = tryParseAddress(address);
      if (parsed && "path" in parsed) owner = this.byPath(parsed.path);
      if (owner) keys = [...owner.keys.values()].map((k) => k.jwk);
    }
    if (!owner || keys.length === 0) {
      this.nack(session, env, "key_unknown", "no such key");
      return;
    }
    this.sendTo(
      session,
      makeEnvelope({
        sid: this.sid,
        to: env.replyTo,
        corrId: env.corrId ?? env.id,
        frame: { type: "KeyAnnounce", keys, sid: owner.sid },
      }),
    );
  }

  private byPath(path: string): NodeSession | undefined {
    // paths are /<sentinelId>/<systemId>: the last segment names the node
    const systemId = path.slice(path.lastIndexOf("/") + 1);
    const s = this.bySystemId.get(systemId);
    return s && s.path === path ? s : undefined;
  }

  /** Data, Secure*, DeliveryAck, KeyAnnounce between nodes */
  private forward(session: NodeSession, env: Envelope, raw?: Buffer | string): Promise<void> | undefined {
    if (!env.to) {
      this.nack(session, env, "bad_envelope", `${env.frame.type} needs a destination (to)`);
      return;
    }
    const parsed = tryParseAddress(env.to);
    if (!parsed) {
      this.nack(session, env, "bad_envelope", "unparseable destination");
      return;
    }
    if ("path" in parsed) {
      if (parsed.path === `/${this.sid}`) {
        // Answers to the sentinel's own health probes (health@/<sentinel id>).
        if (!this.affinity.onProbeReply(session.id, env) && env.frame.type !== "DeliveryAck")
          this.nack(session, env, "no_route", "no probe of this sentinel awaits that answer");
        return;
      }
      const target = this.byPath(parsed.path);
      if (!target) {
        this.nack(session, env, "no_route", `no node at ${env.to}`);
        return;
      }
      if (env.frame.type === "Data" || env.frame.type === "SecureOpen") {
        // A standby of a single-active pool takes no calls, even addressed to it directly.
        const refusal = this.affinity.checkPhysical(
          parsed.name,
          target.id,
          this.registry.addressesOf(target.id),
        );
        if (refusal) {
          this.nack(session, env, refusal.code, refusal.reason, true);
          return;
        }
      }
      const noted = this.noteReply(session, target, env);
      if (noted === true) return this.deliver(session, env, raw, target, undefined);
      if (noted === false) return;
      return noted.then((ok) => {
        if (ok) this.deliver(session, env, raw, target, undefined);
      });
    }
    const sessionMeta = this.affinity.sessionMeta(env.meta);
    if (isSessionMetaError(sessionMeta)) {
      this.nack(session, env, sessionMeta.code, sessionMeta.reason, true);
      return;
    }
    // pickReplica admits the calls (refusesCalls) before any placement side effect
    const calls = callsToTrack(env);
    const picked = this.pickReplica(session, env, sessionMeta, calls);
    if (picked instanceof Promise) {
      return picked.then((replica) => {
        if (replica) this.deliver(session, env, raw, replica, sessionMeta, calls);
      });
    }
    if (picked) this.deliver(session, env, raw, picked, sessionMeta, calls);
    return;
  }

  /** nacks (true) when `calls` more requests of this connection may not be tracked now */
  private refusesCalls(session: NodeSession, env: Envelope, calls: number): boolean {
    if (calls === 0) return false;
    // Counted from the tracker, so entries swept or orphaned by a departed replica free their slots.
    if (this.inflight.countFor(session.id) + calls > this.settings.maxInflightPerConnection) {
      this.nack(
        session,
        env,
        "too_many_inflight",
        `over ${this.settings.maxInflightPerConnection} requests in flight`,
      );
      return true;
    }
    if (!this.inflight.hasRoom(calls)) {
      // Untracked, its caller would never hear replica_unavailable: refuse rather than lose it.
      this.nack(session, env, "too_many_inflight", "the sentinel's in-flight table is full", true);
      return true;
    }
    return false;
  }

  /**
   * Sends a routed frame on to `target`. `viaPool` is the session meta when the destination
   * was logical: then `calls` requests (admitted by refusesCalls) are tracked and counted
   * against the pool.
   */
  private deliver(
    session: NodeSession,
    env: Envelope,
    raw: Buffer | string | undefined,
    target: NodeSession,
    viaPool: SessionMeta | undefined,
    calls = 0,
  ): undefined {
    const to = env.to!; // forward() refused frames without a destination
    /** a coalesced channel record: each of its calls is accounted for as if it came alone */
    const batch = batchOf(env);
    if (viaPool && calls > 0) {
      const pool = this.registry.resolve(to);
      const deadline = this.now() + (env.ttlMs ?? DEFAULT_REQUEST_TTL_MS);
      for (let i = 0; i < calls; i++) {
        this.inflight.track({
          requesterId: session.id,
          replicaId: target.id,
          corrId: batch ? batch[i]!.corrId : env.corrId!,
          envelopeId: env.id,
          replyTo: env.replyTo,
          deadline,
          address: to,
        });
        pool?.acquire(target.id);
      }
    }
    this.counters.routed++;
    if (viaPool) {
      // A batch names no single last call to wait for: coalesced messages carry no session meta.
      const reply =
        batch === undefined && env.corrId && env.replyTo
          ? { requesterId: session.id, corrId: env.corrId }
          : undefined;
      this.affinity.noteRouted(to, target.id, viaPool, reply, batch?.length ?? 1);
    }
    this.sendTo(target, raw ?? encodeEnvelope(env), env);
    return undefined;
  }

  /**
   * A frame addressed to a node's physical address: a reply. Completes the
   * in-flight entry and, for SecureAccept, creates the channel pin (the one
   * case that answers with a promise).
   */
  private noteReply(replica: NodeSession, client: NodeSession, env: Envelope): boolean | Promise<boolean> {
    const batch = batchOf(env);
    if (batch !== undefined) {
      for (const entry of batch) {
        if (entry.more === true) continue;
        this.inflight.complete(replica.id, client.id, entry.corrId);
        this.affinity.onReply(replica.id, client.id, entry.corrId);
      }
    } else if (env.corrId && env.meta?.["more"] !== true) {
      this.inflight.complete(replica.id, client.id, env.corrId);
      this.affinity.onReply(replica.id, client.id, env.corrId);
    }
    const frame = env.frame;
    if (frame.type === "SecureClose") this.deps.stickiness?.onSecureClose(client.sid, frame.cid);
    if (frame.type !== "SecureAccept" || !frame.ok) return true;
    const key = `${client.sid}\u0000${frame.cid}`;
    const pending = this.pendingOpens.get(key);
    if (!pending || pending.replicaId !== replica.id || pending.accepting) {
      if (pending && !pending.accepting) this.dropPendingOpen(key);
      this.nack(
        replica,
        env,
        "channel_unknown",
        "SecureAccept for a channel this replica was not asked to open",
      );
      return false;
    }
    const stickiness = this.deps.stickiness;
    if (!stickiness) {
      this.dropPendingOpen(key);
      return true;
    }
    // Until the pin exists (checking an AFT is asynchronous) the channel stays counted as
    // pending, so opens arriving meanwhile cannot slip past the client's channel quota.
    pending.accepting = true;
    return this.pinAccepted(
      stickiness,
      replica,
      client,
      env as Envelope<Extract<Frame, { type: "SecureAccept" }>>,
      pending,
      key,
    );
  }

  /** Pin before the client hears of the channel, so its first data frame finds the pin. */
  private async pinAccepted(
    stickiness: AFTLoadBalancerStickinessManager,
    replica: NodeSession,
    client: NodeSession,
    env: Envelope<Extract<Frame, { type: "SecureAccept" }>>,
    pending: PendingOpen,
    key: string,
  ): Promise<boolean> {
    const frame = env.frame;
    let result: Awaited<ReturnType<AFTLoadBalancerStickinessManager["onSecureAccept"]>>;
    try {
      result = await stickiness.onSecureAccept({
        address: pending.address,
        replicaId: replica.id,
        replicaSid: replica.sid,
        clientSid: client.sid,
        cid: frame.cid,
        aft: frame.aft,
      });
    } finally {
      // pinned or not, the open is no longer pending (unless a sweep already dropped it)
      if (this.pendingOpens.get(key) === pending) this.dropPendingOpen(key);
    }
    if (result.pinned || stickiness.securityLevel !== "strict") return true;
    this.deps.log.warn(
      { replica: replica.systemId, cid: frame.cid, reason: result.reason },
      "AFT refused: no pin",
    );
    // The client's open fails fast and it may try again; the replica's accept goes no further.
    this.counters.refused++;
    this.sendTo(
      client,
      makeEnvelope({
        sid: this.sid,
        to: env.to,
        corrId: env.corrId ?? frame.cid,
        frame: {
          type: "DeliveryAck",
          ok: false,
          refId: env.id,
          code: "channel_unknown",
          reason: "replica affinity tag refused",
        },
        meta: { notExecuted: true },
      }),
    );
    return false;
  }

  /**
   * Logical destination: sticky channel routing first, then the load balancer. Synchronous
   * except when a stateless AFT has to be verified.
   */
  private pickReplica(
    session: NodeSession,
    env: Envelope,
    sessionMeta: SessionMeta,
    calls: number,
  ): NodeSession | undefined | Promise<NodeSession | undefined> {
    const to = env.to!;
    const pool = this.registry.resolve(to);
    if (!pool || pool.size === 0) {
      const refusal = this.affinity.refuseEmpty(to);
      if (refusal) this.nack(session, env, refusal.code, refusal.reason, true);
      else this.nack(session, env, "no_route", `no node serves ${to}`);
      return undefined;
    }
    const frame = env.frame;
    const cid =
      frame.type === "SecureOpen" || frame.type === "SecureClose" || frame.type === "SecureAccept"
        ? frame.cid
        : frame.type === "Data"
          ? env.sec?.enc?.cid
          : undefined;
    const stickiness = this.deps.stickiness;
    if (cid !== undefined && stickiness) {
      if (env.aft && frame.type === "Data") {
        return stickiness
          .routeStateless({ clientSid: session.sid, cid, address: to, aft: env.aft })
          .then((route) => this.placeRouted(session, env, sessionMeta, calls, pool, stickiness, cid, route));
      }
      const route = stickiness.route({
        clientSid: session.sid,
        cid,
        address: to,
        opening: frame.type === "SecureOpen",
      });
      return this.placeRouted(session, env, sessionMeta, calls, pool, stickiness, cid, route);
    }
    return this.place(session, env, sessionMeta, calls, pool);
  }

  /** what the sticky table said about a channel frame: its replica, a refusal, or placement */
  private placeRouted(
    session: NodeSession,
    env: Envelope,
    sessionMeta: SessionMeta,
    calls: number,
    pool: ReplicaPool<NodeSession>,
    stickiness: AFTLoadBalancerStickinessManager,
    cid: string,
    route: RouteDecision,
  ): NodeSession | undefined {
    const frame = env.frame;
    if (route.kind === "pinned") {
      const replica = this.bySystemId.get(route.replicaId);
      if (replica && pool.has(replica.id)) {
        const veto =
          frame.type === "Data"
            ? this.affinity.checkPinned(env.to!, pool, replica.id, sessionMeta.sessionId)
            : undefined;
        if (veto) {
          this.nack(session, env, veto.code, veto.reason, true);
          return undefined;
        }
        if (this.refusesCalls(session, env, calls)) return undefined;
        if (frame.type === "SecureClose") stickiness.onSecureClose(session.sid, cid);
        return replica;
      }
      this.nack(session, env, "channel_unknown", "the replica holding this channel is gone", true);
      return undefined;
    }
    if (route.kind === "refused") {
      this.nack(
        session,
        env,
        route.code,
        route.code === "channel_conflict" ? "channel id owned by another client" : "no pin for channel",
        true,
      );
      return undefined;
    }
    if (frame.type !== "SecureOpen" && stickiness.securityLevel !== "sid-only") {
      // Channel data with no pin would reach a replica without the keys.
      this.nack(session, env, "channel_unknown", "no replica holds this channel", true);
      return undefined;
    }
    return this.place(session, env, sessionMeta, calls, pool);
  }

  /**
   * A new channel (or unpinned traffic): the channel quota, then the in-flight caps, then pool
   * policy or the load balancer. The checks come first, so a refused frame leaves no pending
   * open or session placement behind.
   */
  private place(
    session: NodeSession,
    env: Envelope,
    sessionMeta: SessionMeta,
    calls: number,
    pool: ReplicaPool<NodeSession>,
  ): NodeSession | undefined {
    const to = env.to!;
    const frame = env.frame;
    if (frame.type === "SecureOpen") {
      const held =
        (this.deps.stickiness?.pinsOfClient(session.sid) ?? 0) + (this.pendingOpensBy.get(session.sid) ?? 0);
      if (held >= this.maxChannelsPerClient) {
        this.counters.channelQuotaRefused++;
        this.nack(
          session,
          env,
          "too_many_channels",
          `${held} channels open or opening (limit ${this.maxChannelsPerClient})`,
          true,
        );
        return undefined;
      }
    }
    if (this.refusesCalls(session, env, calls)) return undefined;
    // Per-pool policy (single-active, session affinity) or the load balancer.
    const placed = this.affinity.place(to, pool, sessionMeta.sessionId);
    if (placed.kind === "refuse") {
      this.nack(session, env, placed.code, placed.reason, true);
      return undefined;
    }
    const replica = placed.node;
    if (!replica) {
      this.nack(session, env, "no_route", `every replica of ${to} is draining or unhealthy`);
      return undefined;
    }
    if (frame.type === "SecureOpen") {
      const key = `${session.sid}\u0000${frame.cid}`;
      this.dropPendingOpen(key); // a repeated open replaces, never double-counts
      this.pendingOpens.set(key, {
        replicaId: replica.id,
        clientSid: session.sid,
        address: to,
        deadline: this.now() + OPEN_TIMEOUT_MS,
      });
      this.pendingOpensBy.set(session.sid, (this.pendingOpensBy.get(session.sid) ?? 0) + 1);
    }
    return replica;
  }

  private dropPendingOpen(key: string): void {
    const open = this.pendingOpens.get(key);
    if (!open) return;
    this.pendingOpens.delete(key);
    const n = (this.pendingOpensBy.get(open.clientSid) ?? 1) - 1;
    if (n > 0) this.pendingOpensBy.set(open.clientSid, n);
    else this.pendingOpensBy.delete(open.clientSid);
  }

  // ───────────────────────── output ─────────────────────────

  private nack(
    session: NodeSession,
    env: Envelope,
    code: ErrorCode,
    reason: string,
    notExecuted = false,
  ): void {
    this.counters.refused++;
    if (code !== "channel_unknown")
      this.deps.log.warn({ systemId: session.systemId, code, reason, type: env.frame.type }, "refused");
    else this.deps.log.debug({ systemId: session.systemId, code, reason }, "refused");
    // one answer per conversation the refused envelope carried (a coalesced record carries several)
    const batch = batchOf(env);
    const answers = batch?.length ?? 1;
    for (let i = 0; i < answers; i++) {
      const ack = nackFor(env, code, reason, { sid: this.sid });
      if (batch !== undefined) ack.corrId = batch[i]!.corrId;
      if (notExecuted) ack.meta = { notExecuted: true };
      this.sendTo(session, ack);
    }
  }

  private sendTo(target: NodeSession, envOrText: Envelope | string | Buffer, shown?: Envelope): void {
    if (target.state === "closed") return;
    if (target.link.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.deps.log.warn({ systemId: target.systemId }, "peer not reading: frame dropped");
      return;
    }
    const text =
      typeof envOrText === "string" || Buffer.isBuffer(envOrText) ? envOrText : encodeEnvelope(envOrText);
    if (this.deps.showEnvelopes) this.show("out", target, shown ?? (envOrText as Envelope));
    target.link.send(text);
  }

  private show(dir: "in" | "out", session: NodeSession, env: Envelope): void {
    const frame = env.frame;
    const summary: Record<string, unknown> = {
      dir,
      peer: session.systemId || session.link.remote,
      type: frame.type,
      id: env.id,
      to: env.to,
      corrId: env.corrId,
    };
    if (env.sec?.sig) summary["sig"] = { alg: env.sec.sig.alg, kid: env.sec.sig.kid };
    if (env.sec?.enc) summary["enc"] = { alg: env.sec.enc.alg, cid: env.sec.enc.cid, seq: env.sec.enc.seq };
    const batch = batchOf(env);
    if (batch) summary["batch"] = batch.map((e) => (e.more ? `${e.corrId}+` : e.corrId));
    if (frame.type === "Data" && frame.codec === "json") summary["payload"] = frame.payload;
    this.deps.log.info(summary, "envelope");
  }
}
