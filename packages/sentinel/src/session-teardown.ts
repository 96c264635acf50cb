import type { Logger } from "@fame/logger";
import { CALLER_SID_META, CHANNEL_KEPT_META, makeEnvelope } from "@fame/protocol";
import type { PoolRouter } from "./affinity/index.js";
import { CLOSE } from "./close-codes.js";
import type { InflightEntry, InflightTracker } from "./inflight-tracker.js";
import type { PendingAttaches } from "./limits/pending-attaches.js";
import type { NodeSession } from "./node-session.js";
import type { DeliverStage } from "./pipeline/deliver-stage.js";
import type { LogicalRegistry } from "./routing/index.js";
import type { SentinelCounters } from "./sentinel-counters.js";
import type { SessionDirectory } from "./session-directory.js";
import type { AFTLoadBalancerStickinessManager } from "./stickiness/index.js";

export interface TeardownDeps {
  sid: string;
  directory: SessionDirectory;
  pendingAttaches: PendingAttaches;
  registry: LogicalRegistry<NodeSession>;
  inflight: InflightTracker;
  affinity: PoolRouter<NodeSession>;
  stickiness: AFTLoadBalancerStickinessManager | undefined;
  deliver: DeliverStage;
  counters: SentinelCounters;
  log: Logger;
  /** an attached connection silent this long has lost its heartbeat */
  heartbeatLostMs: number;
  /** ... and this long, it is idle (not even heartbeats) */
  idleTimeoutMs: number;
}

/** The end of a connection: everything that named it lets go, and whoever waited on it hears. */
export class SessionTeardown {
  constructor(private readonly deps: TeardownDeps) {}

  /** the connection ended (closed, errored, terminated, refused or superseded) */
  close(session: NodeSession, why: string): void {
    if (session.state === "closed") return;
    const d = this.deps;
    const wasAttached = session.state === "attached";
    d.pendingAttaches.remove(session.connectionId);
    session.state = "closed";
    clearTimeout(session.attachTimer);
    d.directory.remove(session);
    if (!wasAttached) return;
    d.counters.detached++;
    const addresses = d.registry.removeNode(session.id);
    d.stickiness?.onReplicaLeft(session.id);
    d.stickiness?.onClientLeft(session.sid);
    d.affinity.onNodeLeft(session.id, addresses);
    this.callerGone(session, d.inflight.dropRequester(session.id));
    const orphans = this.orphaned(session, why);
    d.log.info({ systemId: session.systemId, addresses: addresses.length, orphans, why }, "node detached");
  }

  /**
   * Callers waiting on `replica` (attached here, or to another sentinel) learn now that it
   * left, not at their timeout. `channelKept`: it only moved to another sentinel and still
   * holds its channels, so callers resend on the same channel. Returns how many calls were
   * answered so.
   */
  orphaned(replica: NodeSession, why: string, channelKept = false): number {
    const d = this.deps;
    const orphans = d.inflight.takeAllFor(replica.id);
    // its name too (self-declared, as fame status and the dashboard show it)
    const reason = `replica ${replica.systemId}${replica.name === "" ? "" : ` (${replica.name})`} left (${why})`;
    for (const entry of orphans) this.unavailable(entry, reason, channelKept);
    return orphans.length;
  }

  /**
   * `caller` left with calls in flight: each replica attached here that runs one is told, so
   * that the operation's ctx.signal aborts and it gives back its slot instead of running on for
   * nobody (audit round 12). A caller whose link dropped has failed these calls itself, so none
   * is waited for any more. Bounded by the caller's in-flight cap.
   */
  private callerGone(caller: NodeSession, calls: readonly InflightEntry[]): void {
    const d = this.deps;
    for (const entry of calls) {
      const replica = d.directory.bySystemId(entry.replicaId);
      if (replica === undefined || replica.state !== "attached") continue;
      d.deliver.send(
        replica,
        makeEnvelope({
          sid: d.sid,
          corrId: entry.corrId,
          frame: { type: "DeliveryAck", ok: false, refId: entry.envelopeId, code: "caller_gone" },
          meta: { [CALLER_SID_META]: caller.sid },
        }),
      );
    }
  }

  /**
   * Calls a stalled replica sits on, given up when it is ejected (outlier ejection): each
   * caller hears replica_unavailable now (an idempotent call is sent again, to the member that
   * took over) instead of at its own timeout. Calls answered meanwhile are left alone.
   */
  givenUp(calls: readonly InflightEntry[], replicaId: string): void {
    const reason = `replica ${replicaId} was ejected: it left calls unanswered`;
    for (const entry of calls) if (this.deps.inflight.drop(entry)) this.unavailable(entry, reason, false);
  }

  private unavailable(entry: InflightEntry, reason: string, channelKept: boolean): void {
    const d = this.deps;
    const requester = d.directory.bySystemId(entry.requesterId);
    if (!requester) return;
    d.counters.replicaUnavailableNacks++;
    d.deliver.send(
      requester,
      makeEnvelope({
        sid: d.sid,
        to: entry.replyTo,
        corrId: entry.corrId,
        frame: {
          type: "DeliveryAck",
          ok: false,
          refId: entry.envelopeId,
          code: "replica_unavailable",
          reason,
        },
        ...(channelKept ? { meta: { [CHANNEL_KEPT_META]: true } } : {}),
      }),
    );
  }

  /**
   * closes attached connections that went silent (no heartbeat, or nothing at all) or whose
   * certificates all expired; forgets a renewed node's expired keys
   */
  closeSilent(now: number): void {
    const d = this.deps;
    for (const session of d.directory.all()) {
      if (session.state !== "attached") continue;
      const silentMs = now - session.lastSeen;
      if (silentMs > d.idleTimeoutMs) {
        // Not even heartbeats: nothing on this connection is alive enough to keep.
        d.counters.idleClosed++;
        d.log.warn({ systemId: session.systemId, silentMs, remote: session.link.remote }, "idle timeout");
        session.link.close(CLOSE.idle, "idle timeout");
        this.close(session, "idle timeout");
      } else if (silentMs > d.heartbeatLostMs) {
        d.log.warn({ systemId: session.systemId, silentMs }, "heartbeat lost");
        session.link.close(CLOSE.heartbeat, "heartbeat lost");
        this.close(session, "heartbeat lost");
      } else {
        const expired = expiredKeys(session, now);
        if (expired === 0) continue;
        if (expired < session.keys.size) {
          // a renewed node's older key, past its certificate: no longer handed out or taken
          d.directory.replaceKeys(session, [], now);
          continue;
        }
        // A node whose certificates all expired did not renew in the second half of their
        // lifetime: its peers refuse what it signs, and the sentinel no longer vouches for it.
        // It re-attaches, which admits it anew (a new certificate).
        d.log.warn({ systemId: session.systemId }, "certificate expired: connection closed");
        session.link.close(CLOSE.policy, "certificate expired: attach again");
        this.close(session, "certificate expired");
      }
    }
  }
}

/** the node's keys whose certificate has expired (keys without one never do) */
function expiredKeys(session: NodeSession, now: number): number {
  let n = 0;
  for (const key of session.keys.values()) if (key.notAfter !== undefined && key.notAfter <= now) n++;
  return n;
}
