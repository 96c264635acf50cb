import type { NodeKey, NodeSession } from "./node-session.js";
import type { ReplicaDirectory } from "./stickiness/index.js";

/** The cluster's side of the directory (cluster/sentinel-cluster.ts). */
export interface ClusterNodes {
  attached(session: NodeSession): void;
  removed(session: NodeSession): void;
  /** a node attached to another sentinel */
  bySystemId(systemId: string): NodeSession | undefined;
  bySid(sid: string): NodeSession | undefined;
}

/**
 * Every connection of the sentinel, and the attached ones by what names them: systemId (the
 * registry member id and the last segment of the physical path), sid (the envelope sender),
 * key id (KeyRequest answers and the one-owner-per-key rule). Each lookup is one Map get.
 *
 * It is also the stickiness manager's replica directory: an AFT is checked against the key
 * its replica proved at attach.
 */
export class SessionDirectory implements ReplicaDirectory {
  /**
   * In a cluster: told of every attach and detach (the node directory announces them), and
   * asked about replicas attached to other sentinels (AFT keys, sids). Undefined on a single
   * sentinel.
   */
  cluster: ClusterNodes | undefined = undefined;
  private readonly connections = new Map<string, NodeSession>();
  private readonly systems = new Map<string, NodeSession>();
  private readonly sids = new Map<string, NodeSession>();
  private readonly keyOwners = new Map<string, NodeSession>();

  /** open connections, attached or not */
  get connectionCount(): number {
    return this.connections.size;
  }

  get attachedCount(): number {
    return this.systems.size;
  }

  /** a new connection, not attached yet */
  opened(session: NodeSession): void {
    this.connections.set(session.connectionId, session);
  }

  /**
   * `session` attached: indexed by its systemId, sid and key ids. A previous connection of the
   * same node is replaced in the indexes (its owner closes it).
   */
  attached(session: NodeSession): void {
    this.systems.set(session.systemId, session);
    this.sids.set(session.sid, session);
    for (const kid of session.keys.keys()) this.keyOwners.set(kid, session);
    this.cluster?.attached(session);
  }

  /**
   * `session` (attached) holds `keys` from now on: what it presented anew, then those of its
   * keys not expired yet (frames signed before it switched may still come), at most `max`.
   */
  replaceKeys(session: NodeSession, keys: readonly NodeKey[], now: number, max = 4): void {
    const kept = [...session.keys.values()].filter(
      (k) => !keys.some((n) => n.kid === k.kid) && (k.notAfter === undefined || k.notAfter > now),
    );
    for (const kid of session.keys.keys())
      if (this.keyOwners.get(kid) === session) this.keyOwners.delete(kid);
    session.keys.clear();
    for (const key of [...keys, ...kept].slice(0, max)) session.keys.set(key.kid, key);
    if (this.systems.get(session.systemId) === session)
      for (const kid of session.keys.keys()) this.keyOwners.set(kid, session);
  }

  /** the connection ended: gone from every index that still points at it */
  remove(session: NodeSession): void {
    this.connections.delete(session.connectionId);
    if (this.systems.get(session.systemId) === session) {
      this.systems.delete(session.systemId);
      this.cluster?.removed(session);
    }
    if (this.sids.get(session.sid) === session) this.sids.delete(session.sid);
    for (const kid of session.keys.keys())
      if (this.keyOwners.get(kid) === session) this.keyOwners.delete(kid);
  }

  /** every open connection; deleting while iterating is safe */
  all(): IterableIterator<NodeSession> {
    return this.connections.values();
  }

  /** attached connections */
  attachedSessions(): IterableIterator<NodeSession> {
    return this.systems.values();
  }

  bySystemId(systemId: string): NodeSession | undefined {
    return this.systems.get(systemId);
  }

  bySid(sid: string): NodeSession | undefined {
    return this.sids.get(sid);
  }

  /** the attached session that presented key `kid` */
  keyOwner(kid: string): NodeSession | undefined {
    return this.keyOwners.get(kid);
  }

  /** The node at a physical path `/<sentinelId>/<systemId>`: the last segment names it. */
  byPath(path: string): NodeSession | undefined {
    const s = this.systems.get(path.slice(path.lastIndexOf("/") + 1));
    return s && s.path === path ? s : undefined;
  }

  replicaKeyOf(replicaId: string): Uint8Array | undefined {
    const replica = this.systems.get(replicaId) ?? this.cluster?.bySystemId(replicaId);
    return replica?.keys.values().next().value?.publicKey;
  }

  replicaKeysOf(replicaId: string): readonly Uint8Array[] {
    const replica = this.systems.get(replicaId) ?? this.cluster?.bySystemId(replicaId);
    return replica === undefined ? [] : [...replica.keys.values()].map((k) => k.publicKey);
  }

  replicaBySid(sid: string): string | undefined {
    return (this.sids.get(sid) ?? this.cluster?.bySid(sid))?.id;
  }
}
