/**
 * The shared state's public shapes: one interface per concern. Sync reads come from a local
 * cache kept current by a watch; writes are async and reject with StateUnavailableError when
 * the backend cannot record them. Times are ms since the epoch.
 */

export type StateProfile = "memory" | "nats";

/** Health of the backend as this process sees it. */
export interface StateStatus {
  readonly state: "ok" | "unavailable";
  /** when the state last changed (ms epoch) */
  readonly since: number;
  /** why it is unavailable (no secrets: a NATS status or error text) */
  readonly reason?: string;
}

export type Unsubscribe = () => void;

// ---- sentinel registry ----

export interface SentinelAdvert {
  sentinelId: string;
  /** the wss attach URL nodes use for this sentinel (the seed's public_url) */
  publicUrl: string;
  /** attached nodes, for least-loaded placement */
  nodes: number;
  /** draining: Welcome places no new node here */
  draining?: boolean;
}

export interface SentinelRecord extends SentinelAdvert {
  draining: boolean;
  /** when the advert was last refreshed (ms epoch) */
  seenAt: number;
}

export interface SentinelRegistry {
  /**
   * Publishes (or updates) this process's advert and keeps refreshing it every 2 s until
   * `withdraw` or close. A record not refreshed for 10 s is no longer live.
   */
  advertise(advert: SentinelAdvert): Promise<void>;
  /** stops refreshing and removes the record */
  withdraw(sentinelId: string): Promise<void>;
  /** live sentinels (refreshed within the last 10 s), sorted by sentinelId */
  live(): SentinelRecord[];
  get(sentinelId: string): SentinelRecord | undefined;
  onChange(cb: (sentinelId: string, record: SentinelRecord | undefined) => void): Unsubscribe;
}

// ---- node directory ----

/** A node's public key as carried on the wire (structurally @fame/protocol's Jwk). */
export interface NodeKeyJwk {
  kty: string;
  crv: string;
  x: string;
  kid: string;
  use?: string;
  /** standard base64 DER certificates, leaf first */
  x5c?: string[];
}

export interface NodeRecord {
  systemId: string;
  instanceId: string;
  sid: string;
  path: string;
  /** the sentinel the node is attached to */
  sentinelId: string;
  principal: string;
  /** logical addresses the node serves (accepted at attach) */
  logicals: string[];
  /** addresses bound by the node (pool membership) */
  addresses: string[];
  keys: NodeKeyJwk[];
  name: string;
  draining: boolean;
  attachedAt: number;
}

export interface NodeDirectory {
  /**
   * Records an attached node (replacing any record for its systemId) and keeps refreshing it
   * from this process every 5 s until withdrawn; a record not refreshed for 20 s is gone.
   */
  announce(record: NodeRecord): Promise<void>;
  /** changes fields of a record this process announced; false when it announced none */
  update(systemId: string, patch: Partial<Omit<NodeRecord, "systemId">>): Promise<boolean>;
  /**
   * Removes the record when it is still this process's announcement for that instance (a node
   * that moved to another sentinel keeps its new record); true when removed.
   */
  withdraw(systemId: string, instanceId: string): Promise<boolean>;
  get(systemId: string): NodeRecord | undefined;
  bySid(sid: string): NodeRecord | undefined;
  /** live records whose node serves or bound `address`, sorted by attachedAt then systemId */
  membersOf(address: string): readonly NodeRecord[];
  /** every live record */
  all(): readonly NodeRecord[];
  onChange(cb: (systemId: string, record: NodeRecord | undefined) => void): Unsubscribe;
}

// ---- channel pins ----

export interface PinRecord {
  replicaSystemId: string;
  replicaSid: string;
  /** the pin's expiry (ms epoch) */
  exp: number;
}

export interface PinStore {
  /** the pin when known and not expired */
  get(clientSid: string, cid: string): PinRecord | undefined;
  put(clientSid: string, cid: string, pin: PinRecord): Promise<void>;
  delete(clientSid: string, cid: string): Promise<void>;
  onChange(cb: (clientSid: string, cid: string, pin: PinRecord | undefined) => void): Unsubscribe;
  /** cached pins (expired ones included until swept) */
  readonly size: number;
}

// ---- attach tickets ----

export interface TicketLedger {
  /**
   * Records a ticket id as used; true the first time anywhere in the cluster, false when it
   * was already spent. `expiresAt` is the ticket's expiry (ms epoch).
   */
  spend(jti: string, expiresAt: number): Promise<boolean>;
}

// ---- single-active elections ----

export interface ElectionRecord {
  /** the pool member holding the role (a replica's systemId) */
  holder: string;
  /** the sentinel that claimed or renewed it */
  sentinelId: string;
  /** grows by one at every change of holder */
  epoch: number;
  /** the lease's end (ms epoch): a takeover is only possible after it */
  expiresAt: number;
}

export interface ElectionClaim {
  holder: string;
  sentinelId: string;
  /** lease length; default 3000 ms */
  leaseMs?: number;
}

export interface ElectionStore {
  /**
   * Claims the role for `claim.holder` when nobody holds a live lease (or it already does:
   * then this renews). Decided by a revision-checked write: of racing claimants exactly one
   * wins. Resolves with the holder after the attempt (the winner when this claim lost).
   */
  claim(pool: string, claim: ElectionClaim): Promise<ElectionRecord>;
  /** extends the lease when `holder` still holds it; the record, or undefined when it lost it */
  renew(pool: string, holder: string, leaseMs?: number): Promise<ElectionRecord | undefined>;
  /** gives the role up when `holder` holds it (others may claim at once) */
  release(pool: string, holder: string): Promise<void>;
  /** the holder with a live lease, from the watch */
  current(pool: string): ElectionRecord | undefined;
  onChange(cb: (pool: string, record: ElectionRecord | undefined) => void): Unsubscribe;
}

// ---- affinity sessions ----

export interface SessionPlacement {
  replicaSystemId: string;
  /** who owns the session (principal and instance of the node that opened it) */
  owner: string;
  lastSeen: number;
}

export interface SessionStore {
  get(sessionId: string): SessionPlacement | undefined;
  /**
   * Places the session unless it already has a placement; resolves with the placement that
   * holds (the existing one when another sentinel placed it first).
   */
  place(sessionId: string, placement: SessionPlacement): Promise<SessionPlacement>;
  /** records a placement unconditionally (a move, or a lastSeen refresh) */
  put(sessionId: string, placement: SessionPlacement): Promise<void>;
  delete(sessionId: string): Promise<void>;
  onChange(cb: (sessionId: string, placement: SessionPlacement | undefined) => void): Unsubscribe;
  /** every cached placement (what onChange has reported so far) */
  entries(): IterableIterator<[string, SessionPlacement]>;
}

// ---- messaging between sentinels ----

/** Core publish/subscribe between the processes sharing the state (not persisted). */
export interface StateBus {
  publish(subject: string, data: Uint8Array): void;
  /** `cb` runs for every message on the subject until the returned function is called */
  subscribe(subject: string, cb: (data: Uint8Array) => void): Unsubscribe;
}

// ---- the bundle ----

export interface FabricState {
  readonly profile: StateProfile;
  /** the cluster's id: bucket names and subjects are scoped by it */
  readonly clusterId: string;
  readonly registry: SentinelRegistry;
  readonly directory: NodeDirectory;
  readonly pins: PinStore;
  readonly tickets: TicketLedger;
  readonly elections: ElectionStore;
  readonly sessions: SessionStore;
  /** sentinel-to-sentinel messages; undefined with the memory profile (one process) */
  readonly bus: StateBus | undefined;
  readonly status: StateStatus;
  onStatus(cb: (status: StateStatus) => void): Unsubscribe;
  /** stops refreshes and watches and closes the connection; idempotent */
  close(): Promise<void>;
}
