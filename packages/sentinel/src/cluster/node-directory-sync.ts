import type { Logger } from "@fame/logger";
import type { NodeDirectory, NodeRecord } from "@fame/state";
import { LogThrottle } from "../limits/log-throttle.js";
import type { NodeSession } from "../node-session.js";
import type { LogicalRegistry } from "../routing/index.js";
import type { SessionDirectory } from "../session-directory.js";
import type { ClusterRoute } from "./cluster-route.js";

export interface NodeDirectorySyncDeps {
  sentinelId: string;
  nodes: NodeDirectory;
  directory: SessionDirectory;
  registry: LogicalRegistry<NodeSession>;
  route: ClusterRoute;
  log: Logger;
  now: () => number;
  /**
   * ends a local connection of a node that attached to another sentinel since (as a reconnect
   * here supersedes its stale connection); its teardown settles what it had in flight
   */
  supersede?: (session: NodeSession) => void;
}

/**
 * After a node's record is written, its next change waits this long and goes with whatever
 * else changed meanwhile: a node binding and unbinding in a loop makes ~4 replicated writes a
 * second, not one per frame. A node's first change (its binds after attaching) goes at once.
 */
export const DIRECTORY_UPDATE_GAP_MS = 250;

/**
 * This sentinel's nodes in the cluster's node directory, and the other sentinels' nodes in
 * this one's routing. A node attached here is announced (the directory refreshes the record
 * while it lives, so a dead sentinel's nodes age out), updated when it binds, unbinds or
 * drains, and withdrawn when its connection ends. Every record change reaches the cluster
 * route, which keeps a remote session for each node attached elsewhere.
 */
export class NodeDirectorySync {
  private readonly failures = new LogThrottle();
  private unsubscribe: (() => void) | undefined;
  /** when each node's record was last updated (ms, deps.now), while a gap may still hold a change */
  private readonly lastWrite = new Map<string, number>();
  /** nodes whose change waits for its gap to pass, by system id */
  private readonly held = new Map<string, NodeSession>();
  private heldTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly deps: NodeDirectorySyncDeps) {}

  /** follow the directory: every record known now, then every change */
  start(): void {
    const d = this.deps;
    this.unsubscribe = d.nodes.onChange((systemId, record) => this.changed(systemId, record));
    for (const record of d.nodes.all()) this.changed(record.systemId, record);
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    clearTimeout(this.heldTimer);
    this.heldTimer = undefined;
    this.held.clear();
    this.lastWrite.clear();
  }

  /** `session` attached here */
  attached(session: NodeSession): void {
    const d = this.deps;
    // Attaches of one node at two sentinels are ordered by these stamps, on every sentinel
    // alike: after any attach this sentinel has seen of it, whatever the clocks say (audit
    // round 15: a sentinel whose clock ran behind stamped a later attach earlier, and both
    // connections stayed).
    const seen = d.nodes.get(session.systemId);
    session.attachedAt = Math.max(session.attachedAt, d.now(), seen === undefined ? 0 : seen.attachedAt + 1);
    d.route.localAttached(session.systemId);
    this.write("announce", d.nodes.announce(this.recordOf(session)));
  }

  /** its bound addresses, draining flag or keys changed */
  updated(session: NodeSession): void {
    const d = this.deps;
    if (d.directory.bySystemId(session.systemId) !== session) return;
    const now = d.now();
    const last = this.lastWrite.get(session.systemId);
    if (last !== undefined && now - last < DIRECTORY_UPDATE_GAP_MS) {
      // held: written with the node's state as it is when the gap has passed
      this.held.set(session.systemId, session);
      if (this.heldTimer === undefined) {
        this.heldTimer = setTimeout(() => this.writeHeld(), DIRECTORY_UPDATE_GAP_MS - (now - last));
        this.heldTimer.unref?.();
      }
      return;
    }
    this.writeUpdate(session, now);
  }

  private writeUpdate(session: NodeSession, now: number): void {
    const d = this.deps;
    this.lastWrite.set(session.systemId, now);
    const patch = {
      addresses: d.registry.addressesOf(session.id),
      draining: session.draining,
      keys: [...session.keys.values()].map((k) => k.jwk),
    };
    this.write("update", d.nodes.update(session.systemId, patch));
  }

  /** the held changes whose gap has passed; the timer again for the rest */
  private writeHeld(): void {
    this.heldTimer = undefined;
    const d = this.deps;
    const now = d.now();
    let next = Number.POSITIVE_INFINITY;
    for (const [systemId, session] of this.held) {
      const due = (this.lastWrite.get(systemId) ?? 0) + DIRECTORY_UPDATE_GAP_MS;
      if (due > now) {
        next = Math.min(next, due);
        continue;
      }
      this.held.delete(systemId);
      // the node left or reattached meanwhile: its teardown or attach wrote what stands
      if (d.directory.bySystemId(systemId) === session) this.writeUpdate(session, now);
    }
    if (this.held.size > 0) {
      this.heldTimer = setTimeout(() => this.writeHeld(), Math.max(1, next - now));
      this.heldTimer.unref?.();
    }
    // gaps long past need no memory (bounded by the nodes attached here)
    for (const [systemId, at] of this.lastWrite)
      if (now - at >= DIRECTORY_UPDATE_GAP_MS && !this.held.has(systemId)) this.lastWrite.delete(systemId);
  }

  /** a record changed in the directory (this sentinel's own included) */
  private changed(systemId: string, record: NodeRecord | undefined): void {
    const d = this.deps;
    const local = record === undefined ? undefined : d.directory.bySystemId(systemId);
    if (
      local !== undefined &&
      record!.sentinelId !== d.sentinelId &&
      attachedLater(record!, local, d.sentinelId)
    ) {
      // One live connection per node in the cluster, as at one sentinel: a node attached here
      // and to another sentinel at once took its calls' answers there, while this sentinel
      // held the calls and took an honest replica for stalled (audit round 14). The later
      // attach wins; this connection ends like a superseded one.
      d.log.info(
        { systemId, elsewhere: record!.sentinelId },
        "node attached to another sentinel: its connection here ends",
      );
      d.supersede?.(local);
    } else if (local !== undefined && record!.sentinelId !== d.sentinelId) {
      // The connection here is the later one: its record goes back into the directory (and is
      // refreshed again), where the other sentinel reads it and ends its own connection.
      d.log.info({ systemId, elsewhere: record!.sentinelId }, "node attached here later than elsewhere");
      this.write("announce", d.nodes.announce(this.recordOf(local)));
      return;
    }
    d.route.nodeChanged(systemId, record);
  }

  /**
   * `session`'s connection ended. A node that reconnected here at once (a superseded
   * connection) keeps its record: the new connection's attach follows in the same turn.
   */
  removed(session: NodeSession): void {
    const d = this.deps;
    if (this.held.get(session.systemId) === session) this.held.delete(session.systemId);
    if (!this.held.has(session.systemId)) this.lastWrite.delete(session.systemId);
    queueMicrotask(() => {
      if (d.directory.bySystemId(session.systemId) !== undefined) return;
      this.write("withdraw", d.nodes.withdraw(session.systemId, session.instanceId));
      // It may have attached to another sentinel before this connection ended: route there.
      const record = d.nodes.get(session.systemId);
      if (record !== undefined && record.sentinelId !== d.sentinelId)
        d.route.nodeChanged(session.systemId, record);
    });
  }

  private recordOf(s: NodeSession): NodeRecord {
    const d = this.deps;
    return {
      systemId: s.systemId,
      instanceId: s.instanceId,
      sid: s.sid,
      path: s.path,
      sentinelId: d.sentinelId,
      principal: s.principal,
      logicals: s.acceptedLogicals,
      addresses: d.registry.addressesOf(s.id),
      keys: [...s.keys.values()].map((k) => k.jwk),
      name: s.name,
      draining: s.draining,
      attachedAt: s.attachedAt || d.now(),
    };
  }

  /** directory writes are records, not decisions: a failure is logged (throttled) and routing goes on */
  private write(what: string, pending: Promise<unknown>): void {
    pending.catch((err: unknown) => {
      if (this.failures.hit())
        this.deps.log.warn({ err, what, failures: this.failures.total }, "node directory not updated");
    });
  }
}

/**
 * Is `record` (another sentinel's) an attach later than `local`'s? Ties go to the sentinel id
 * that sorts last, so two sentinels seeing each other's record never both end theirs.
 */
function attachedLater(record: NodeRecord, local: NodeSession, sentinelId: string): boolean {
  if (record.attachedAt !== local.attachedAt) return record.attachedAt > local.attachedAt;
  return record.sentinelId > sentinelId;
}
