import { batchOf, type Envelope } from "@fame/protocol";
import type { PoolRouter } from "../affinity/index.js";
import type { InflightEntry, InflightTracker } from "../inflight-tracker.js";
import type { NodeSession } from "../node-session.js";
import type { LogicalRegistry } from "../routing/index.js";
import type { SentinelCounters } from "../sentinel-counters.js";
import type { DeliverStage } from "./deliver-stage.js";
import type { RouteRequest } from "./route-request.js";

const DEFAULT_REQUEST_TTL_MS = 5 * 60_000;
/**
 * The longest a request's in-flight entry is kept, whatever `ttlMs` the sender chose: the SDK
 * sets none (the default above), and an entry whose answer never comes must expire.
 */
export const MAX_REQUEST_TTL_MS = 60 * 60_000;

export interface AccountDeps {
  registry: LogicalRegistry<NodeSession>;
  inflight: InflightTracker;
  affinity: PoolRouter<NodeSession>;
  counters: SentinelCounters;
  deliver: DeliverStage;
  maxInflightPerConnection: number;
  /** requests in flight of all nodes of one credential together (FAME_MAX_INFLIGHT_PER_PRINCIPAL) */
  maxInflightPerPrincipal: number;
  now: () => number;
}

/**
 * The account stage: what a routed frame commits the sentinel to. Requests sent through a pool
 * are tracked until answered (the caller hears replica_unavailable if the replica leaves first)
 * and count as their replica's load; replies complete them. It also admits calls: a connection
 * may have only so many requests in flight, and the table as a whole is bounded.
 */
export class AccountStage {
  constructor(private readonly deps: AccountDeps) {}

  /**
   * Nacks (true) when the request's calls may not be tracked now. Checked while routing, before
   * any placement side effect; counted from the tracker, so entries swept or orphaned by a
   * departed replica free their slots.
   */
  refusesCalls(req: RouteRequest): boolean {
    const calls = req.calls;
    if (calls === 0) return false;
    const d = this.deps;
    const max = d.maxInflightPerConnection;
    if (d.inflight.countFor(req.session.id) + calls > max) {
      d.deliver.nack(req.session, req.env, "too_many_inflight", `over ${max} requests in flight`);
      return true;
    }
    // One credential's many connections, each within its own bound, must not fill the table
    // that every caller shares (audit round 11: 977 connections of one client did).
    const credential = req.session.credential;
    if (credential !== "" && d.inflight.countForCredential(credential) + calls > d.maxInflightPerPrincipal) {
      d.deliver.nack(
        req.session,
        req.env,
        "too_many_inflight",
        `the nodes of this credential hold ${d.maxInflightPerPrincipal} requests in flight together`,
      );
      return true;
    }
    if (!d.inflight.hasRoom(calls)) {
      // Untracked, its caller would never hear replica_unavailable: refuse rather than lose it.
      d.deliver.nack(
        req.session,
        req.env,
        "too_many_inflight",
        "the sentinel's in-flight table is full",
        true,
      );
      return true;
    }
    return false;
  }

  /**
   * `req` was delivered to `target`. Through a pool, each of its calls (admitted by
   * refusesCalls) is tracked and counted against the pool; a coalesced record's calls are
   * accounted for as if each came alone.
   */
  routed(req: RouteRequest, target: NodeSession): void {
    const d = this.deps;
    d.counters.routed++;
    if (req.kind !== "logical") return;
    const env = req.env;
    const to = req.address!;
    const calls = req.calls;
    const batch = batchOf(env);
    if (calls > 0) {
      const pool = d.registry.resolve(to);
      const deadline = d.now() + Math.min(env.ttlMs ?? DEFAULT_REQUEST_TTL_MS, MAX_REQUEST_TTL_MS);
      const watch = d.affinity.watchCalls(to, target.id, target.principal, req.session.principal);
      for (let i = 0; i < calls; i++) {
        const entry: InflightEntry = {
          requesterId: req.session.id,
          credential: req.session.credential,
          replicaId: target.id,
          corrId: batch ? batch[i]!.corrId : env.corrId!,
          envelopeId: env.id,
          replyTo: env.replyTo,
          deadline,
          address: to,
          // written by the watch when the call is watched: present from the start, one shape for all entries
          watch: undefined,
          heardAt: undefined,
        };
        if (d.inflight.track(entry) && watch !== undefined) d.affinity.watch(watch, entry);
        pool?.acquire(target.id);
      }
    }
    // A batch names no single last call to wait for: coalesced messages carry no session meta.
    const reply =
      batch === undefined && env.corrId && env.replyTo
        ? { requesterId: req.session.id, corrId: env.corrId }
        : undefined;
    d.affinity.noteRouted(to, target.id, req.sessionMeta, reply, batch?.length ?? 1);
  }

  /**
   * A frame from `replica` to `client`'s physical address: a reply. Its final answers complete
   * their in-flight entries (and the session ends waiting on them) as it is routed, even when
   * its delivery then waits for a channel pin or is refused.
   */
  replied(replica: NodeSession, client: NodeSession, env: Envelope): void {
    const batch = batchOf(env);
    if (batch !== undefined) {
      for (const entry of batch) this.answer(replica, client, entry.corrId, entry.more === true);
    } else if (env.corrId) {
      this.answer(replica, client, env.corrId, env.meta?.["more"] === true);
    }
  }

  /**
   * One answer from `replica` naming the client's call `corrId`. Only a frame naming a call of
   * the client's in flight with this replica counts for outlier ejection (a replica could send
   * any caller it has seen frames naming nothing): a final answer shows it serves its callers,
   * a stream item that this call is being served.
   */
  private answer(replica: NodeSession, client: NodeSession, corrId: string, more: boolean): void {
    const d = this.deps;
    if (more) {
      const entry = d.inflight.entryOf(replica.id, client.id, corrId);
      if (entry?.watch !== undefined) d.affinity.progressed(entry);
      return;
    }
    const entry = d.inflight.complete(replica.id, client.id, corrId);
    if (entry?.watch !== undefined) d.affinity.answered(entry);
    d.affinity.onReply(replica.id, client.id, corrId);
  }
}
