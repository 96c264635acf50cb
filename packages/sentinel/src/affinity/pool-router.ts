/**
 * The per-pool routing policies on top of the sentinel's registry: session affinity (bounded
 * HRW + session table), exclusive sessions, single-active election, draining grace periods,
 * app-level health checks, and the distribution counters behind the status page and
 * /metrics. Pure apart from the probe sender it is given; the sentinel calls it at a handful
 * of points (pick, forward, reply, drain, node left, sweep).
 */
import type { Logger } from "@fame/logger";
import { addressHasName, type Envelope, type ErrorCode } from "@fame/protocol";
import {
  checkHealthReplyPath,
  DEFAULT_OUTLIER_POLICY,
  type OutlierPolicy,
  type PoolPolicy,
} from "../pool-policy.js";
import { createLoadBalancer, type LoadBalancer, type LoadBalancerName } from "../routing/load-balancer.js";
import type { ReplicaPool } from "../routing/replica-pool.js";
import type { SharedState } from "../shared-state.js";
import { ActiveElection } from "./active-election.js";
import { GracePeriods } from "./grace-periods.js";
import { HealthChecker } from "./health-checker.js";
import { OutlierEjections } from "./outlier-ejections.js";
import { type PoolDistribution, PoolStats } from "./pool-stats.js";
import { PendingSessionEnds } from "./session-ends.js";
import { readSessionMeta, type SessionMeta } from "./session-meta.js";
import { placeExclusiveSession, placeSession } from "./session-placement.js";
import { principalOf, SessionTable } from "./session-table.js";
import { SharedElection } from "./shared-election.js";
import { SharedSessions } from "./shared-sessions.js";
import { type ReplicaCalls, StallWatch, type WatchedCall } from "./stall-watch.js";

export interface RoutedNode {
  id: string;
}

export interface Refusal {
  code: ErrorCode;
  reason: string;
}

export type Placement<N> = { kind: "node"; node: N | undefined } | ({ kind: "refuse" } & Refusal);

export interface PoolRouterDeps<N extends RoutedNode> {
  now?: () => number;
  log: Logger;
  /** the registry's pool at an address */
  resolve: (address: string) => ReplicaPool<N> | undefined;
  sentinelId: string;
  /** sends a health probe; false when the node is not attached. Without it no probes go out. */
  sendProbe?: (nodeId: string, env: Envelope) => boolean;
  /** the balancer of pools whose policy names none, and of pools without a policy; default round_robin */
  loadBalancing?: LoadBalancerName;
  /**
   * A cluster: single-active leases and session placements live in the shared state, and a
   * new session is refused (state_unavailable) while that state cannot record it.
   */
  cluster?: PoolRouterCluster | undefined;
  /**
   * The calls a stalled member holds, given up on when it is ejected (or reported to its own
   * sentinel): their callers hear at once rather than at their timeouts, and retry elsewhere.
   */
  giveUp?: ((calls: readonly WatchedCall[], replicaId: string) => void) | undefined;
}

export interface PoolRouterCluster {
  shared: SharedState;
  /** true when the node is attached to this sentinel */
  isLocal: (nodeId: string) => boolean;
  /**
   * Tells the sentinel a node is attached to that the calls routed to it from here go
   * unanswered: that sentinel ejects it (it alone holds the node's single-active lease).
   */
  reportStall?: ((address: string, nodeId: string) => void) | undefined;
  /**
   * Tells every sentinel of the cluster that this one ejected a member (for `forMs`, at its
   * `strikes`): a member that re-attaches to another sentinel is still out there.
   */
  ejected?: ((address: string, nodeId: string, forMs: number, strikes: number) => void) | undefined;
}

interface PolicyState<N extends RoutedNode> {
  policy: PoolPolicy;
  balancer: LoadBalancer<N> | undefined;
  sessions: SessionTable | undefined;
}

const SWEEP_WORK = 10_000;

/** Refusals of `sessionAccess`: frozen, so refusing allocates nothing. */
export const SESSION_NOT_OWNED: Refusal = Object.freeze({
  code: "session_not_owned",
  reason:
    "this session id belongs to another client (until it ends, or idles past the pool's affinity_ttl_sec)",
});
export const TOO_MANY_CLIENT_SESSIONS: Refusal = Object.freeze({
  code: "too_many_client_sessions",
  reason: "this client holds its share of sessions in this exclusive pool",
});
/** the same code: to the caller it is the same limit, reached by its credential as a whole */
export const TOO_MANY_PRINCIPAL_SESSIONS: Refusal = Object.freeze({
  code: "too_many_client_sessions",
  reason: "this client's credential holds its share of this pool's sessions (all its processes together)",
});

/** How many sessions of a pool one client may create (the authorize stage passes them in). */
export interface SessionLimits {
  /** one process (principal and instance) in one exclusive pool */
  maxExclusivePerClient: number;
  /**
   * One principal with all its processes, in percent: of an exclusive pool's replicas (at least
   * one, and one left for others when there are two or more) and of any pool's `max_sessions`.
   */
  principalSharePct: number;
}

/** `pct` of `n`, at least one; below 100 % one is left over whenever there are two or more */
export function principalShare(n: number, pct: number): number {
  const share = Math.max(1, Math.ceil((n * pct) / 100));
  return pct < 100 && n >= 2 ? Math.min(share, n - 1) : share;
}

export class PoolRouter<N extends RoutedNode> {
  readonly health: HealthChecker | undefined;
  readonly hasSingleActive: boolean;
  private readonly policies = new Map<string, PolicyState<N>>();
  private readonly stats = new PoolStats();
  private readonly election: ActiveElection | SharedElection;
  /** the cluster's session placements; undefined on a single sentinel */
  private readonly shared: SharedSessions | undefined;
  private readonly grace: GracePeriods;
  private readonly fallback: LoadBalancer<N>;
  private readonly pendingEnds: PendingSessionEnds;
  private readonly now: () => number;
  /** spreads calls without a session over an exclusive pool's free replicas */
  private sessionlessCount = 0;
  /** replicas holding other principals' calls, and since when they answered none */
  private readonly stalls: StallWatch;
  private readonly ejections: OutlierEjections;
  /** stalled last members already warned about, so the warning comes once per stall */
  private keptStalled = new Set<string>();

  constructor(
    policies: readonly PoolPolicy[],
    private readonly deps: PoolRouterDeps<N>,
  ) {
    this.now = deps.now ?? Date.now;
    this.grace = new GracePeriods(this.now);
    this.stalls = new StallWatch(this.now);
    this.ejections = new OutlierEjections(this.now);
    this.pendingEnds = new PendingSessionEnds(this.now, (address, sessionId, owner) => {
      // the session may have expired meanwhile and been made again by another client
      const state = this.policies.get(address);
      const table = state?.sessions;
      const ttlMs = (state?.policy.affinityTtlSec ?? 300) * 1000;
      const holder = table?.ownerOf(sessionId) ?? this.shared?.ownerOf(address, sessionId, ttlMs);
      if (holder !== undefined && holder !== owner) return;
      table?.end(sessionId);
      this.shared?.ended(address, sessionId);
    });
    this.fallback = createLoadBalancer<N>(deps.loadBalancing ?? "round_robin");
    const cluster = deps.cluster;
    this.election =
      cluster === undefined
        ? new ActiveElection()
        : new SharedElection({
            store: cluster.shared.fabric.elections,
            sentinelId: deps.sentinelId,
            isLocal: cluster.isLocal,
            log: deps.log,
          });
    // Probe answers come back to health@/<sentinel id>: refuse at start rather than at the first probe.
    checkHealthReplyPath(policies, deps.sentinelId, "sentinelId");
    for (const policy of policies) {
      this.policies.set(policy.address, {
        policy,
        balancer:
          policy.loadBalancing === undefined ? undefined : createLoadBalancer<N>(policy.loadBalancing),
        sessions:
          policy.affinity === "session"
            ? new SessionTable({
                ttlMs: policy.affinityTtlSec * 1000,
                maxEntries: policy.maxSessions,
                now: this.now,
                // a session this sentinel forgot leaves no record behind in the cluster's store
                onDropped: (sessionId) =>
                  this.shared?.dropped(policy.address, sessionId, policy.affinityTtlSec * 1000),
              })
            : undefined,
      });
    }
    this.hasSingleActive = policies.some((p) => p.mode === "single-active");
    this.shared =
      cluster !== undefined && policies.some((p) => p.affinity === "session")
        ? new SharedSessions(
            cluster.shared.fabric.sessions,
            (address) => {
              const state = this.policies.get(address);
              return state?.sessions === undefined
                ? undefined
                : { table: state.sessions, ttlMs: state.policy.affinityTtlSec * 1000 };
            },
            deps.log,
            () => cluster.shared.available,
            // the sentinel's clock (the wall clock outside tests): the table and the store agree
            this.now,
          )
        : undefined;
    const send = deps.sendProbe;
    this.health =
      send !== undefined && policies.some((p) => p.healthCheck !== undefined)
        ? new HealthChecker({
            now: this.now,
            sentinelId: deps.sentinelId,
            send,
            onChange: (address, nodeId, healthy, detail) =>
              this.onHealthChange(address, nodeId, healthy, detail),
          })
        : undefined;
  }

  policyOf(address: string): PoolPolicy | undefined {
    return this.policies.get(address)?.policy;
  }

  /** `session-id` / `session-end` of an envelope, or a refusal for malformed values. */
  sessionMeta(meta: Envelope["meta"]): SessionMeta | Refusal {
    return readSessionMeta(meta);
  }

  /**
   * A new channel in a cluster whose shared state cannot record its pin: refused up front with
   * state_unavailable (counted), rather than after the replica did the handshake.
   */
  refuseUnrecordedOpen(): Refusal | undefined {
    return this.deps.cluster?.shared.refusal("open");
  }

  /** No member at all: single-active pools say NOT_ACTIVE (a standby may come), others no_route. */
  refuseEmpty(address: string): Refusal | undefined {
    if (this.policies.get(address)?.policy.mode !== "single-active") return undefined;
    this.stats.countersOf(address).notActive++;
    return { code: "NOT_ACTIVE", reason: `no replica of ${address} is active` };
  }

  /**
   * May `owner` use session `sessionId` of the pool at `address` (route under it, end it, or
   * have it placed or moved)? Only the client that created a session may. A new session counts
   * against the creator's limits: in an exclusive pool a process may hold `maxExclusivePerClient`
   * and its principal (all its processes: a credential holder can start as many as it likes) a
   * share of the replicas, so that no one holds every replica; in any pool the principal holds
   * at most a share of `max_sessions`, so that no one can fill the table and have other
   * clients' sessions evicted. O(1): one policy lookup, one session lookup, a few counts.
   */
  sessionAccess(
    address: string,
    sessionId: string,
    owner: string,
    limits: SessionLimits,
  ): Refusal | undefined {
    const state = this.policies.get(address);
    const table = state?.sessions;
    if (table === undefined) return undefined;
    // a session placed through another sentinel of the cluster has the same owner here
    const holder =
      table.ownerOf(sessionId) ??
      this.shared?.ownerOf(address, sessionId, state!.policy.affinityTtlSec * 1000);
    if (holder !== undefined) return holder === owner ? undefined : SESSION_NOT_OWNED;
    if (state!.policy.exclusive && table.heldBy(owner) >= limits.maxExclusivePerClient)
      return TOO_MANY_CLIENT_SESSIONS;
    // 100 %: no share (one tenant); a full pool then says no_free_replica, a full table evicts
    if (limits.principalSharePct >= 100) return undefined;
    const principal = principalOf(owner);
    const ofTable = principalShare(table.capacity, limits.principalSharePct);
    const ofReplicas = state!.policy.exclusive
      ? principalShare(this.deps.resolve(address)?.eligibleCount ?? 0, limits.principalSharePct)
      : ofTable;
    const limit = Math.min(ofTable, ofReplicas);
    // in a cluster the share is the cluster's: sessions placed through every sentinel count (the
    // local table also has the ones whose records are still on their way to the store)
    const ttlMs = state!.policy.affinityTtlSec * 1000;
    const held = Math.max(
      table.heldByPrincipal(principal),
      this.shared?.ofPrincipal(address, principal, ttlMs, limit) ?? 0,
    );
    return held >= limit ? TOO_MANY_PRINCIPAL_SESSIONS : undefined;
  }

  /**
   * Where new work for `address` goes (a SecureOpen, or plaintext Data); `owner` owns a
   * session it creates.
   */
  place(address: string, pool: ReplicaPool<N>, sessionId: string | undefined, owner: string): Placement<N> {
    const state = this.policies.get(address);
    if (state === undefined) return { kind: "node", node: this.fallback.pick(pool, sessionId) };
    if (state.policy.mode === "single-active") {
      const node = this.activeOf(address, pool);
      if (node !== undefined) return { kind: "node", node };
      this.stats.countersOf(address).notActive++;
      return {
        kind: "refuse",
        code: "NOT_ACTIVE",
        reason: `no replica of ${address} is active (${pool.size} attached, none healthy and not draining)`,
      };
    }
    if (state.sessions !== undefined && sessionId !== undefined) {
      return this.routeSession(state, state.sessions, address, pool, sessionId, owner);
    }
    if (state.policy.exclusive && state.sessions !== undefined) {
      // a replica holding a session is that session's dedicated worker: work without a session
      // goes only to a free replica (spread by a counter), never beside someone's session
      const ttlMs = state.policy.affinityTtlSec * 1000;
      const key = String(this.sessionlessCount++ % 1_000_000);
      const node = placeExclusiveSession(key, pool, this.exclusiveLoad(address, state.sessions, ttlMs));
      if (node !== undefined) return { kind: "node", node };
      if (pool.eligibleCount === 0) return { kind: "node", node: undefined };
      this.stats.countersOf(address).noFreeReplica++;
      return {
        kind: "refuse",
        code: "no_free_replica",
        reason: `every replica of ${address} (${pool.eligibleCount}) holds a session; a call without one gets none of them`,
      };
    }
    return { kind: "node", node: (state.balancer ?? this.fallback).pick(pool, sessionId) };
  }

  /**
   * Channel data found its pin on `replicaId` (channel stickiness wins). Refused with
   * channel_unknown, so the client opens a new channel where the policy says, when the replica
   * is no longer the active one (single-active) or is draining/unhealthy past the pool's
   * draining timeout. Session pools count the hit (or the disagreement); `owner` owns a
   * session placed here.
   */
  checkPinned(
    address: string,
    pool: ReplicaPool<N>,
    replicaId: string,
    sessionId: string | undefined,
    owner: string,
  ): Refusal | undefined {
    const state = this.policies.get(address);
    if (state === undefined) return undefined;
    if (state.policy.mode === "single-active") {
      if (this.activeOf(address, pool)?.id === replicaId) return undefined;
      this.stats.countersOf(address).notActive++;
      return {
        code: "channel_unknown",
        reason: `the channel's replica is no longer the active one of ${address}`,
      };
    }
    const member = pool.member(replicaId);
    if (member !== undefined && !member.healthy && this.ejections.isEjected(address, replicaId)) {
      // it left calls unanswered: waiting out the draining timeout would only lose more
      return {
        code: "channel_unknown",
        reason: "the channel's replica was ejected: it left calls unanswered",
      };
    }
    if (member !== undefined && !this.grace.within(address, member, state.policy)) {
      // Past the draining timeout channels move too: the client re-opens on an eligible replica.
      return {
        code: "channel_unknown",
        reason: `the channel's replica is ${member.draining ? "draining" : "unhealthy"} past the pool's draining timeout`,
      };
    }
    const table = state.sessions;
    if (table === undefined || sessionId === undefined) return undefined;
    const counters = this.stats.countersOf(address);
    const ttlMs = state.policy.affinityTtlSec * 1000;
    const entry = table.get(sessionId) ?? this.shared?.adopt(address, table, sessionId, ttlMs);
    if (entry?.replicaId === replicaId) {
      table.touch(entry);
      this.shared?.touched(address, entry, ttlMs);
      counters.stickyHits++;
    } else if (entry?.replicaId !== undefined) {
      counters.stickyViolations++;
    } else if (!state.policy.exclusive || this.exclusiveLoad(address, table, ttlMs)(replicaId) === 0) {
      // The session expired (or its placement was lost) while the channel lived on: follow it.
      const placed = table.place(sessionId, replicaId, owner);
      this.shared?.record(address, table, placed, entry === undefined);
      if (entry === undefined) counters.stickyMisses++;
      else counters.stickyViolations++;
    } else {
      counters.stickyViolations++;
    }
    return undefined;
  }

  /**
   * A request sent to a node's physical address `name@/path`: refused with NOT_ACTIVE when the
   * node is a standby of a single-active pool serving `name`.
   */
  checkPhysical(name: string, nodeId: string, addresses: readonly string[]): Refusal | undefined {
    if (!this.hasSingleActive) return undefined;
    for (const address of addresses) {
      if (this.policies.get(address)?.policy.mode !== "single-active" || !addressHasName(address, name))
        continue;
      const active = this.activeOf(address, this.deps.resolve(address));
      if (active?.id === nodeId) return undefined;
      this.stats.countersOf(address).notActive++;
      return {
        code: "NOT_ACTIVE",
        reason: `${nodeId} is a standby of ${address}; ${active ? `${active.id} is active` : "none is active"}`,
      };
    }
    return undefined;
  }

  /**
   * An envelope went to `replicaId` of the pool at `address`; `session`: its meta, as
   * `sessionMeta` read it; `calls`: how many requests it carried (a coalesced record has several).
   */
  noteRouted(
    address: string,
    replicaId: string,
    session: SessionMeta,
    reply: { requesterId: string; corrId: string } | undefined,
    calls = 1,
  ): void {
    this.stats.noteRequests(address, replicaId, calls);
    if (!session.end || session.sessionId === undefined) return;
    const table = this.policies.get(address)?.sessions;
    if (table === undefined) return;
    const ttlMs = (this.policies.get(address)?.policy.affinityTtlSec ?? 300) * 1000;
    // The replica is freed when it has answered the last call, not while it is still running it.
    const waits =
      reply !== undefined &&
      this.pendingEnds.wait(
        address,
        session.sessionId,
        table.ownerOf(session.sessionId),
        replicaId,
        reply.requesterId,
        reply.corrId,
        ttlMs,
      );
    if (!waits) {
      table.end(session.sessionId);
      this.shared?.ended(address, session.sessionId);
    }
  }

  /** A final reply from `replicaId` to `requesterId` for `corrId` passed the sentinel. */
  onReply(replicaId: string, requesterId: string, corrId: string): void {
    this.pendingEnds.onReply(replicaId, requesterId, corrId);
  }

  /**
   * The record calls from a caller of principal `callerPrincipal` to `replicaId` through the
   * pool at `address` go on, or undefined when they are not watched: calls between nodes of one
   * principal (see stall-watch.ts), pools with `outlier_detection: false`.
   */
  watchCalls(
    address: string,
    replicaId: string,
    replicaPrincipal: string,
    callerPrincipal: string,
  ): ReplicaCalls | undefined {
    if (replicaPrincipal === callerPrincipal && replicaPrincipal !== "") return undefined;
    if (this.outlierOf(address) === undefined) return undefined;
    return this.stalls.recordOf(address, replicaId);
  }

  /** `call` (tracked in flight) is watched on `rec` until it settles */
  watch(rec: ReplicaCalls, call: WatchedCall): void {
    this.stalls.add(rec, call);
  }

  /** a watched call left the in-flight table, however it left */
  settled(call: WatchedCall): void {
    this.stalls.settled(call);
  }

  /** its replica answered a watched call: it serves its callers */
  answered(call: WatchedCall): void {
    this.stalls.answered(call);
  }

  /** a stream item of a watched call came back */
  progressed(call: WatchedCall): void {
    this.stalls.progressed(call);
  }

  /** `nodeId` joined the pool at `address` (again): an ejection in force still holds. */
  onBound(address: string, nodeId: string): void {
    if (this.ejections.isEjected(address, nodeId)) this.deps.resolve(address)?.setHealthy(nodeId, false);
  }

  /** A node announced (or was put into) draining: its grace period starts now. */
  onDraining(nodeId: string, addresses: readonly string[]): void {
    this.grace.onDraining(nodeId);
    for (const address of addresses) this.reelect(address);
  }

  /** The operator took a node out of draining: it may take the role (single-active) again. */
  onResumed(nodeId: string, addresses: readonly string[]): void {
    this.grace.onResumed(nodeId);
    for (const address of addresses) this.reelect(address);
  }

  /** A node detached; `addresses` are the ones it held (already removed from the registry). */
  onNodeLeft(nodeId: string, addresses: readonly string[]): void {
    this.grace.onNodeLeft(nodeId, addresses);
    this.health?.forgetNode(nodeId);
    for (const address of addresses) {
      const state = this.policies.get(address);
      const moved = state?.sessions?.removeReplica(nodeId) ?? 0;
      if (moved > 0)
        this.deps.log.info({ address, replica: nodeId, sessions: moved }, "replica left: its sessions move");
      const pool = this.deps.resolve(address);
      this.stats.onNodeLeft(address, nodeId, state === undefined && (pool === undefined || pool.size === 0));
      this.reelect(address);
    }
    this.pendingEnds.onNodeLeft(nodeId);
  }

  /** A Data envelope from `nodeId` to the probe reply address; false when it answers no probe. */
  onProbeReply(nodeId: string, env: Envelope): boolean {
    return this.health?.onReply(nodeId, env) ?? false;
  }

  /** Send due health probes and time out silent ones. */
  tickHealth(): void {
    const health = this.health;
    if (health === undefined) return;
    for (const { policy } of this.policies.values()) {
      if (policy.healthCheck === undefined) continue;
      const pool = this.deps.resolve(policy.address);
      // Draining members get no new work whatever their health, and a probe would only keep them busy.
      const members: { id: string }[] = [];
      for (const m of pool?.members() ?? []) if (!m.draining) members.push({ id: m.node.id });
      health.tick(policy.address, policy.healthCheck, members);
    }
  }

  /**
   * Periodic in a cluster (every second): renew the single-active leases held here, give up
   * those of members no longer eligible, claim pools nobody holds. Nothing on a single sentinel.
   */
  tickElections(): void {
    const election = this.election;
    if (!(election instanceof SharedElection) || !this.hasSingleActive) return;
    const addresses: string[] = [];
    for (const { policy } of this.policies.values())
      if (policy.mode === "single-active") addresses.push(policy.address);
    election.tick(addresses, this.deps.resolve);
  }

  /** Expire idle sessions and overdue session ends (bounded work); eject stalled replicas, end ejections. */
  sweep(): void {
    for (const state of this.policies.values()) state.sessions?.sweep(SWEEP_WORK);
    this.pendingEnds.sweep(SWEEP_WORK);
    this.ejectStalled();
    this.endEjections();
  }

  /**
   * Per-pool distribution: configured pools and pools that saw traffic, up to `limit`; past it,
   * configured pools first and then the busiest (an insider's crowd of pools, each sent a
   * frame, cannot push a serving pool's series out of /metrics).
   */
  snapshot(limit = 1000): PoolDistribution[] {
    const out: PoolDistribution[] = [];
    let addresses: Iterable<string> = new Set([...this.policies.keys(), ...this.stats.addresses()]);
    if ((addresses as Set<string>).size > limit) {
      const rest = [...this.stats.addresses()].filter((a) => !this.policies.has(a));
      const requests = new Map(rest.map((a) => [a, this.stats.requestsOf(a)]));
      rest.sort((a, b) => requests.get(b)! - requests.get(a)!);
      addresses = [...this.policies.keys(), ...rest];
    }
    for (const address of addresses) {
      if (out.length >= limit) break;
      const state = this.policies.get(address);
      out.push(
        this.stats.describe({
          address,
          policy: state?.policy,
          pool: this.deps.resolve(address),
          sessions: state?.sessions,
          active: state?.policy.mode === "single-active" ? this.election.activeOf(address) : undefined,
          health: (id) => this.health?.view(address, id),
          ejectedUntil: (id) => this.ejections.ejectedUntil(address, id),
        }),
      );
    }
    return out;
  }

  // ───────────────────────── internals ─────────────────────────

  private routeSession(
    state: PolicyState<N>,
    table: SessionTable,
    address: string,
    pool: ReplicaPool<N>,
    sessionId: string,
    owner: string,
  ): Placement<N> {
    const counters = this.stats.countersOf(address);
    const ttlMs = state.policy.affinityTtlSec * 1000;
    const entry = table.get(sessionId) ?? this.shared?.adopt(address, table, sessionId, ttlMs);
    if (entry?.replicaId !== undefined) {
      const member = pool.member(entry.replicaId);
      if (
        member !== undefined &&
        this.grace.within(address, member, state.policy) &&
        (member.healthy || !this.ejections.isEjected(address, member.node.id))
      ) {
        table.touch(entry);
        this.shared?.touched(address, entry, ttlMs);
        counters.stickyHits++;
        return { kind: "node", node: member.node };
      }
    }
    // placing (or moving) a session in a cluster leaves a record the others must see
    const down = this.deps.cluster?.shared.refusal("session");
    if (down !== undefined) return { kind: "refuse", code: down.code, reason: down.reason };
    const load = (id: string) => table.countFor(id);
    const node = state.policy.exclusive
      ? placeExclusiveSession(sessionId, pool, this.exclusiveLoad(address, table, ttlMs))
      : placeSession(sessionId, pool, load, state.policy.boundedLoadFactor);
    if (node === undefined) {
      if (state.policy.exclusive && pool.eligibleCount > 0) {
        counters.noFreeReplica++;
        return {
          kind: "refuse",
          code: "no_free_replica",
          reason: `every replica of ${address} (${pool.eligibleCount}) already holds a session`,
        };
      }
      return { kind: "node", node: undefined };
    }
    if (entry === undefined) counters.stickyMisses++;
    else {
      counters.stickyViolations++;
      this.deps.log.info({ address, from: entry.replicaId ?? null, to: node.id }, "session moved");
    }
    const placed = table.place(sessionId, node.id, owner);
    this.shared?.record(address, table, placed, entry === undefined);
    return { kind: "node", node };
  }

  /**
   * Sessions on a replica of an exclusive pool. One session per replica is the cluster's
   * promise: a replica holding a session placed through another sentinel is not free here either.
   */
  private exclusiveLoad(address: string, table: SessionTable, ttlMs: number): (replicaId: string) => number {
    const shared = this.shared;
    if (shared === undefined) return (id) => table.countFor(id);
    return (id) => Math.max(table.countFor(id), shared.onReplica(address, id, ttlMs));
  }

  private activeOf(address: string, pool: ReplicaPool<N> | undefined): N | undefined {
    const e = this.election.elect(address, pool);
    if (e.promoted) {
      this.stats.countersOf(address).promotions++;
      this.deps.log.info(
        { address, active: e.node?.id, previous: e.previous ?? null },
        "active replica elected",
      );
    }
    return e.node;
  }

  private reelect(address: string): void {
    if (this.policies.get(address)?.policy.mode !== "single-active") return;
    const pool = this.deps.resolve(address);
    const node = this.activeOf(address, pool);
    if (node === undefined) this.deps.log.warn({ address }, "no replica can be active");
  }

  /** the pool's outlier settings; pools without an entry get the defaults */
  private outlierOf(address: string): OutlierPolicy | undefined {
    const state = this.policies.get(address);
    return state === undefined ? DEFAULT_OUTLIER_POLICY : state.policy.outlier;
  }

  /**
   * Replicas that left other principals' calls unanswered past their pool's `unanswered_sec`
   * take no new work for a while: the single-active role moves, sessions and channels move at
   * once. Never a pool's last eligible member (it would leave nobody to call), and in a cluster
   * only members attached here, whose lease this sentinel holds and gives up.
   */
  private ejectStalled(): void {
    const cluster = this.deps.cluster;
    const stalled = this.stalls.stalled((address) => {
      const outlier = this.outlierOf(address);
      return outlier === undefined ? undefined : outlier.unansweredSec * 1000;
    });
    const kept = new Set<string>();
    for (const rec of stalled) {
      const { address, replicaId } = rec;
      const calls = rec.calls.size;
      if (cluster !== undefined && !cluster.isLocal(replicaId)) {
        // its own sentinel does not see these calls (audit round 10): it is told, and ejects it
        cluster.reportStall?.(address, replicaId);
        this.deps.log.warn(
          { address, replica: replicaId, calls },
          "replica of another sentinel leaves calls from here unanswered: its sentinel is told",
        );
        this.giveUp(rec);
        this.stalls.forget(address, replicaId);
        // a single-active holder's lease is that sentinel's to give up; other pools stop here
        if (this.policies.get(address)?.policy.mode === "single-active") continue;
      }
      const pool = this.deps.resolve(address);
      if (pool === undefined || !pool.isEligible(replicaId)) continue;
      const outlier = this.outlierOf(address)!;
      if (pool.eligibleCount < 2) {
        const key = `${address}\u0000${replicaId}`;
        kept.add(key);
        if (!this.keptStalled.has(key)) {
          this.deps.log.warn(
            { address, replica: replicaId, calls, unansweredSec: outlier.unansweredSec },
            "replica leaves calls unanswered, but it is the pool's only eligible member: kept",
          );
        }
        continue;
      }
      this.giveUp(rec);
      this.eject(address, replicaId, pool, outlier, { calls });
    }
    // a kept member that answered again, left or was joined by another: warned again next time
    this.keptStalled = kept;
  }

  /** fails the calls a stalled member holds (see PoolRouterDeps.giveUp) */
  private giveUp(rec: ReplicaCalls): void {
    if (rec.calls.size === 0 || this.deps.giveUp === undefined) return;
    this.deps.giveUp([...rec.calls], rec.replicaId);
  }

  /**
   * Another sentinel of the cluster reports that `nodeId`, attached here, leaves the calls it
   * routes there unanswered. Ejected as if seen here (not the last eligible member, only a
   * member attached here): the sentinels trust each other, nodes cannot reach this report.
   */
  ejectReported(address: string, nodeId: string, by: string): void {
    const outlier = this.outlierOf(address);
    const pool = this.deps.resolve(address);
    if (outlier === undefined || pool === undefined || !pool.isEligible(nodeId)) return;
    if (this.deps.cluster !== undefined && !this.deps.cluster.isLocal(nodeId)) return;
    if (pool.eligibleCount < 2) {
      this.deps.log.warn(
        { address, replica: nodeId, reportedBy: by },
        "replica leaves another sentinel's calls unanswered, but it is the pool's only eligible member: kept",
      );
      return;
    }
    this.eject(address, nodeId, pool, outlier, { reportedBy: by });
  }

  /**
   * Another sentinel of the cluster ejected `nodeId` from `address`: remembered, so that the
   * node, should it re-attach here, stays out until that ejection ends (onBound). A member
   * attached elsewhere is left to its own sentinel meanwhile.
   */
  rememberEjection(address: string, nodeId: string, forMs: number, strikes: number): void {
    if (this.outlierOf(address) === undefined) return;
    this.ejections.remember(address, nodeId, forMs, strikes);
    // it re-attached here before the word came: out now, as binding would have put it
    const pool = this.deps.resolve(address);
    if (pool === undefined || !pool.isEligible(nodeId)) return;
    if (this.deps.cluster !== undefined && !this.deps.cluster.isLocal(nodeId)) return;
    if (pool.eligibleCount < 2) return;
    this.takeOut(address, nodeId, pool);
    this.deps.log.warn(
      { address, replica: nodeId, ejectedForSec: Math.round(forMs / 1000), strikes },
      "replica ejected by another sentinel of the cluster: it takes no new work here either",
    );
    this.reelect(address);
  }

  private eject(
    address: string,
    replicaId: string,
    pool: ReplicaPool<N>,
    outlier: OutlierPolicy,
    detail: { calls?: number; reportedBy?: string },
  ): void {
    const ejection = this.ejections.eject(address, replicaId, outlier.ejectionSec * 1000);
    this.deps.cluster?.ejected?.(address, replicaId, ejection.until - this.now(), ejection.strikes);
    this.takeOut(address, replicaId, pool);
    this.stats.countersOf(address).ejections++;
    this.deps.log.warn(
      {
        address,
        replica: replicaId,
        ...detail,
        unansweredSec: outlier.unansweredSec,
        ejectedForSec: Math.round((ejection.until - this.now()) / 1000),
        strikes: ejection.strikes,
      },
      "replica ejected: it left calls unanswered",
    );
    this.reelect(address);
  }

  /** an ejected member takes no new work: its held calls count no more, its grace starts */
  private takeOut(address: string, nodeId: string, pool: ReplicaPool<N>): void {
    this.stalls.forget(address, nodeId);
    pool.setHealthy(nodeId, false);
    this.grace.onHealthChange(address, nodeId, false);
  }

  private endEjections(): void {
    for (const ejection of this.ejections.ended()) {
      const { address, nodeId } = ejection;
      const pool = this.deps.resolve(address);
      const member = pool?.member(nodeId);
      // not here, or never taken out here (an ejection another sentinel made, remembered)
      if (pool === undefined || member === undefined || member.healthy) continue;
      // a member the health checks have failed meanwhile stays out until they pass
      if (this.health?.view(address, nodeId)?.healthy === false) continue;
      pool.setHealthy(nodeId, true);
      this.grace.onHealthChange(address, nodeId, true);
      this.deps.log.info({ address, replica: nodeId }, "ejection over: the replica takes new work again");
      this.reelect(address);
    }
  }

  private onHealthChange(address: string, nodeId: string, healthy: boolean, detail: string): void {
    const pool = this.deps.resolve(address);
    if (healthy && this.ejections.isEjected(address, nodeId)) {
      this.deps.log.info({ address, replica: nodeId }, "replica healthy again, still ejected");
      return;
    }
    pool?.setHealthy(nodeId, healthy);
    this.grace.onHealthChange(address, nodeId, healthy);
    if (healthy) {
      this.deps.log.info({ address, replica: nodeId }, "replica healthy again");
    } else {
      this.deps.log.warn({ address, replica: nodeId, reason: detail }, "replica unhealthy: no new work");
    }
    this.reelect(address);
  }
}
