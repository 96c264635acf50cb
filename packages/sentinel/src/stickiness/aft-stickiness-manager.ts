import {
  type AftExpectation,
  type AftFailure,
  type AftResult,
  checkUnsignedAft,
  decodeAft,
  joseKeyFromPublic,
  verifyAftWith,
} from "@fame/identity";
import type { PinStore } from "@fame/state";
import { parseStickinessConfig, type SecurityLevel, type StickinessConfig } from "./config.js";
import { ReplicaKeyCache } from "./ed25519-keys.js";
import { type Pin, type PinnedDecision, PinTable, type Trust } from "./pin-table.js";

export interface SecureAcceptInfo {
  /** The sentinel's id of the replica that sent the SecureAccept (the pin target). */
  replicaId: string;
  /** That replica's sid: the AFT's `sid` claim must equal it. */
  replicaSid: string;
  clientSid: string;
  cid: string;
  aft?: string | undefined;
  /** sid-only: the logical address opened; scopes the client pin to that pool. */
  address?: string | undefined;
}

export type PinRefusal =
  | AftFailure
  | "channel_conflict"
  | "bad_input"
  | "replica_gone"
  /** the cluster's pin store could not record the pin (NATS unreachable) */
  | "state_unavailable";

export type PinResult =
  | { pinned: true; replicaId: string; trust: Trust; expiresAtMs: number }
  | { pinned: false; reason: PinRefusal };

export interface RouteInput {
  clientSid: string;
  cid: string;
  /** sid-only: the destination logical address (see SecureAcceptInfo.address). */
  address?: string | undefined;
  /** The frame opens the channel (SecureOpen): a miss is then normal, not `channel_unknown`. */
  opening?: boolean | undefined;
}

export interface StatelessRouteInput extends RouteInput {
  /** The AFT the client echoes on its data. */
  aft?: string | undefined;
  /**
   * The client's connection has closed (read once the tag is verified): its pin would never
   * be used or closed, and it would outlive the client's teardown.
   */
  readonly requesterGone?: boolean | undefined;
}

export type RouteDecision =
  | PinnedDecision
  | { readonly kind: "refused"; readonly code: "channel_conflict" | "channel_unknown" }
  | { readonly kind: "none" };

export interface StickinessMetrics {
  pinsCreated: number;
  hits: number;
  misses: number;
  refusals: number;
  verifyFailures: number;
  evictions: number;
  expirations: number;
  /** pins dropped because their replica left: channels that must open again elsewhere */
  orphaned: number;
  size: number;
}

/**
 * How the manager learns about replicas: the sentinel's session directory, which knows the
 * attachments. Called as methods of the object given.
 */
export interface ReplicaDirectory {
  /** Raw Ed25519 public key of a replica's certificate; undefined once it has left. */
  replicaKeyOf(replicaId: string): Uint8Array | undefined;
  /**
   * Every key the replica holds, newest first (a renewed certificate's, then the one before,
   * until it expires): a tag signed before the renewal verifies with the older one.
   */
  replicaKeysOf?(replicaId: string): readonly Uint8Array[];
  /** The replica id attached under a sid; needed for `routeStateless`. */
  replicaBySid?(sid: string): string | undefined;
}

export interface StickinessDeps extends Partial<ReplicaDirectory> {
  /** Where replica keys and sids are looked up; wins over `replicaKeyOf`/`replicaBySid`. */
  directory?: ReplicaDirectory;
  /** Milliseconds since the epoch. Default Date.now. */
  now?: () => number;
  /** Bound on cached imported replica keys. Default 4096. */
  keyCacheSize?: number;
}

/** Ids longer than this are not stored: they would let a peer inflate every pin. */
export const MAX_PIN_ID_LENGTH = 256;

const NONE: RouteDecision = Object.freeze({ kind: "none" });
const CONFLICT: RouteDecision = Object.freeze({ kind: "refused", code: "channel_conflict" });
const UNKNOWN: RouteDecision = Object.freeze({ kind: "refused", code: "channel_unknown" });

/**
 * Channel stickiness for replica pools: once a replica accepts a channel, every later frame
 * of that channel must reach the same replica, because the channel keys exist only there.
 *
 * - `strict`: a pin needs an AFT signed by the replica's certificate key whose claims name
 *   this replica, channel and client; frames of unpinned channels are refused.
 * - `signed-optional`: a valid signed AFT pins with trust "high"; an unsigned AFT (claims
 *   still checked) or none pins with trust "low"; a badly signed AFT is refused.
 * - `sid-only`: no AFT; the client sid (optionally per address) is pinned to a replica.
 *   There is no per-channel state in this mode, so `channel_conflict` cannot be detected.
 *
 * Pins expire at the AFT `exp` (+ clock skew, the same tolerance verification allows), after
 * `defaultTtlSec` when there is no AFT, or when idle for `idleTtlSec`; expiry is checked
 * lazily on access and by `sweep`. The table is LRU-bounded by `maxEntries`.
 */
export class AFTLoadBalancerStickinessManager {
  readonly config: Readonly<StickinessConfig>;
  private readonly table = new PinTable();
  private readonly keys: ReplicaKeyCache;
  private readonly now: () => number;
  private directory: ReplicaDirectory;
  /**
   * The cluster's pins (undefined on a single sentinel): written when a channel is pinned here,
   * read when a frame misses this table (its client attached here after the pin was made
   * elsewhere), deleted when the channel closes. This table stays the hot path's cache.
   */
  private shared: PinStore | undefined = undefined;
  /** Pins store whole seconds relative to this, so times stay small integers. */
  private readonly epochSec: number;
  private sweepCursor: IterableIterator<Pin> | undefined;
  private readonly counters = {
    pinsCreated: 0,
    hits: 0,
    misses: 0,
    refusals: 0,
    verifyFailures: 0,
    evictions: 0,
    expirations: 0,
    orphaned: 0,
  };

  /**
   * `deps` may omit the replica directory when the sentinel that owns it is created later;
   * the sentinel then hands its directory over with `setReplicaDirectory`. Until then no replica
   * has a key, so `strict` and signed AFTs pin nothing (fail closed).
   */
  constructor(config: Partial<StickinessConfig> = {}, deps: StickinessDeps = {}) {
    // Programmatic config goes through the same validation as YAML.
    this.config = Object.freeze(parseStickinessConfig(config));
    this.now = deps.now ?? Date.now;
    this.directory = deps.directory ?? {
      replicaKeyOf: deps.replicaKeyOf ?? noKey,
      replicaBySid: deps.replicaBySid,
      ...(deps.replicaKeysOf === undefined ? {} : { replicaKeysOf: deps.replicaKeysOf }),
    };
    // Indirect through `this` so a later setReplicaDirectory reaches the cache too.
    this.keys = new ReplicaKeyCache((id) => this.directory.replicaKeyOf(id), deps.keyCacheSize);
    this.epochSec = Math.floor(this.now() / 1000);
  }

  /** Wire (or rewire) the replica key and sid lookups. */
  setReplicaDirectory(directory: ReplicaDirectory): void {
    this.directory = directory;
  }

  /** Share channel pins with the other sentinels of a cluster (not in `sid-only`: no channel pins). */
  setSharedPins(store: PinStore): void {
    this.shared = store;
    // a channel closed (or expired) at another sentinel leaves no stale copy here
    store.onChange((clientSid, cid, pin) => {
      if (pin !== undefined) return;
      const cached = this.table.get(cid);
      if (cached !== undefined && cached.clientSid === clientSid) this.table.delete(cached);
    });
  }

  get securityLevel(): SecurityLevel {
    return this.config.securityLevel;
  }

  get size(): number {
    return this.table.size;
  }

  /** A `SecureAccept{ok:true}` is passing from replica to client: pin the channel if allowed. */
  async onSecureAccept(info: SecureAcceptInfo): Promise<PinResult> {
    const result = await this.acceptLocally(info);
    if (!result.pinned || this.shared === undefined || this.config.securityLevel === "sid-only")
      return result;
    // Recorded before the client hears of the channel: whichever sentinel its next frame
    // reaches then finds the pin. A pin the cluster cannot record is no pin.
    try {
      await this.shared.put(info.clientSid, info.cid, {
        replicaSystemId: info.replicaId,
        replicaSid: info.replicaSid,
        exp: result.expiresAtMs,
      });
      const pin = this.table.get(info.cid);
      if (pin !== undefined && pin.clientSid === info.clientSid) pin.recorded = true;
    } catch {
      const pin = this.table.get(info.cid);
      if (pin !== undefined && pin.clientSid === info.clientSid) this.table.delete(pin);
      return this.refuse("state_unavailable");
    }
    return result;
  }

  private async acceptLocally(info: SecureAcceptInfo): Promise<PinResult> {
    if (
      !validId(info.clientSid) ||
      !validId(info.cid) ||
      !validId(info.replicaId) ||
      !validId(info.replicaSid)
    ) {
      return this.refuse("bad_input");
    }
    const level = this.config.securityLevel;
    if (level === "sid-only") {
      const key = sidKey(info.clientSid, info.address);
      return this.pin(key, info.clientSid, info.replicaId, this.relNow() + this.config.defaultTtlSec, "low");
    }

    const expect = this.expectation(info.replicaSid, info.cid, info.clientSid);
    let result: AftResult;
    if (info.aft === undefined || info.aft === "") {
      if (level === "strict") return this.verifyFailed("missing");
      return this.pinChannel(info, this.relNow() + this.config.defaultTtlSec, "low");
    }
    if (level === "signed-optional" && isUnsigned(info.aft)) {
      result = checkUnsignedAft(info.aft, expect);
    } else {
      result = await this.verifySigned(info.aft, expect, info.replicaId);
      // The replica may have left while we verified; a pin to it now would only black-hole frames.
      if (result.ok && this.directory.replicaKeyOf(info.replicaId) === undefined)
        return this.refuse("replica_gone");
    }
    if (!result.ok) return this.verifyFailed(result.reason);
    return this.pinChannel(info, this.aftExpiry(result.claims.exp), result.signed ? "high" : "low");
  }

  /** Where a frame of channel `cid` goes. O(1); refreshes the pin's LRU position and idle time. */
  route(input: RouteInput): RouteDecision {
    const now = this.relNow();
    if (this.config.securityLevel === "sid-only") {
      const pin = this.live(sidKey(input.clientSid, input.address), now);
      if (pin === undefined) {
        this.counters.misses++;
        return NONE;
      }
      return this.hit(pin, now);
    }
    return this.routeChannel(this.live(input.cid, now), input, now);
  }

  /**
   * `route`, but a miss may be repaired from the AFT the client echoes: after a restart (or on
   * another sentinel) the tag is verified like at accept time, the replica found through its
   * `sid` claim, and the pin re-created.
   */
  async routeStateless(input: StatelessRouteInput): Promise<RouteDecision> {
    const level = this.config.securityLevel;
    const aft = input.aft;
    if (level === "sid-only" || aft === undefined || aft === "") return this.route(input);
    const now = this.relNow();
    // A live pin answers at once: the AFT is only read to repair a miss.
    const pin = this.live(input.cid, now) ?? this.fromShared(input.clientSid, input.cid, now);
    if (pin !== undefined) return this.routeChannel(pin, input, now);
    if (!validId(input.clientSid) || !validId(input.cid)) return this.miss(input);

    const decoded = decodeAft(aft);
    const sid = decoded.ok ? decoded.aft.payload["sid"] : undefined;
    const replicaId = typeof sid === "string" ? this.directory.replicaBySid?.(sid) : undefined;
    if (typeof sid !== "string" || replicaId === undefined || !validId(replicaId)) {
      this.counters.verifyFailures++;
      return this.miss(input);
    }
    const expect = this.expectation(sid, input.cid, input.clientSid);
    let result: AftResult;
    if (level === "signed-optional" && isUnsigned(aft)) {
      result = checkUnsignedAft(aft, expect);
    } else {
      result = await this.verifySigned(aft, expect, replicaId);
    }
    if (!result.ok) {
      this.counters.verifyFailures++;
      return this.miss(input);
    }
    // The client may have left while we verified (its teardown has run: nothing would drop
    // a pin stored now), and so may the replica. The replica is asked by sid, not by key: in
    // the open profile replicas present no key, and their unsigned tags must repair pins too.
    if (input.requesterGone === true) return NONE;
    if (this.directory.replicaBySid?.(sid) !== replicaId) return this.miss(input);
    // Another frame may have re-created (or another client claimed) the pin while we verified.
    const later = this.relNow();
    const raced = this.live(input.cid, later);
    if (raced !== undefined) return this.routeChannel(raced, input, later);
    this.counters.misses++;
    const trust: Trust = result.signed ? "high" : "low";
    return this.store(input.cid, input.clientSid, replicaId, this.aftExpiry(result.claims.exp), trust).replica
      .decision;
  }

  /** The channel closed: drop its pin (only if `clientSid` owns it). */
  onSecureClose(clientSid: string, cid: string): boolean {
    if (this.config.securityLevel === "sid-only") return false;
    const pin = this.table.get(cid) ?? this.fromShared(clientSid, cid, this.relNow());
    if (pin === undefined || pin.clientSid !== clientSid) return false;
    if (pin.recorded) this.shared?.delete(clientSid, cid).catch(noop);
    return this.table.delete(pin);
  }

  /**
   * The pin of channel `cid` as stored (expired or not), for the authorize stage to ask who may
   * change it: read only, one Map get, no LRU touch. Undefined in `sid-only` (no channel pins).
   */
  pinOf(cid: string, clientSid?: string): Pin | undefined {
    if (this.config.securityLevel === "sid-only") return undefined;
    const pin = this.table.get(cid);
    if (pin !== undefined || clientSid === undefined) return pin;
    return this.fromShared(clientSid, cid, this.relNow());
  }

  /** A replica detached: drop all of its pins at once. O(its pins). */
  onReplicaLeft(replicaId: string): number {
    this.keys.drop(replicaId);
    const dropped = this.table.deleteReplica(replicaId);
    this.counters.orphaned += dropped;
    return dropped;
  }

  /** A client detached: drop all of its pins. O(its pins). */
  onClientLeft(clientSid: string): number {
    return this.table.deleteClient(clientSid);
  }

  /**
   * Expire up to `maxWork` pins, continuing where the previous call stopped (a Map iterator
   * survives deletions), so a timer can clean the table in slices without a full scan.
   * Returns how many pins were removed.
   */
  sweep(maxWork = 1000): number {
    const now = this.relNow();
    let removed = 0;
    for (let i = 0; i < maxWork; i++) {
      this.sweepCursor ??= this.table.values();
      const next = this.sweepCursor.next();
      if (next.done === true) {
        this.sweepCursor = undefined;
        break;
      }
      if (this.expired(next.value, now)) {
        this.table.delete(next.value);
        this.counters.expirations++;
        removed++;
      }
    }
    return removed;
  }

  metrics(): StickinessMetrics {
    return { ...this.counters, size: this.table.size };
  }

  pinsPerReplica(): Map<string, number> {
    return this.table.pinsPerReplica();
  }

  /** channels pinned for a client (its per-client channel quota counts these) */
  pinsOfClient(clientSid: string): number {
    return this.table.pinsOfClient(clientSid);
  }

  // ───────────── internals ─────────────

  private relNow(): number {
    return Math.floor(this.now() / 1000) - this.epochSec;
  }

  /** The AFT `exp` as a relative pin expiry, with the skew verification tolerates. */
  private aftExpiry(expSec: number): number {
    return Math.floor(expSec) + this.config.clockSkewSec - this.epochSec;
  }

  private expectation(sid: string, cid: string, clientSid: string): AftExpectation {
    return {
      sid,
      cid,
      clientSid,
      nowMs: this.now(),
      clockSkewSec: this.config.clockSkewSec,
      maxLifetimeSec: this.config.maxAftLifetimeSec,
    };
  }

  private expired(pin: Pin, now: number): boolean {
    if (now >= pin.exp) return true;
    const idle = this.config.idleTtlSec;
    return idle !== undefined && now - pin.seen >= idle;
  }

  /** The pin under `key` if it is still valid; an expired one is removed on the way. */
  private live(key: string, now: number): Pin | undefined {
    const pin = this.table.get(key);
    if (pin === undefined) return undefined;
    if (!this.expired(pin, now)) return pin;
    this.table.delete(pin);
    this.counters.expirations++;
    return undefined;
  }

  /** Per-channel routing of a frame whose pin lookup (`pin`, possibly none) is done. */
  private routeChannel(pin: Pin | undefined, input: RouteInput, now: number): RouteDecision {
    if (pin === undefined) {
      // a miss here may be a pin made at another sentinel of the cluster
      const shared = this.shared === undefined ? undefined : this.fromShared(input.clientSid, input.cid, now);
      if (shared === undefined) return this.miss(input);
      pin = shared;
    }
    if (pin.clientSid !== input.clientSid) {
      this.counters.refusals++;
      return CONFLICT;
    }
    return this.hit(pin, now);
  }

  /**
   * The cluster's pin of channel `cid` of `clientSid`, cached in this table (it was verified
   * where it was made). Undefined without a cluster, when unknown, or when another client's
   * channel already holds the cid here.
   */
  private fromShared(clientSid: string, cid: string, now: number): Pin | undefined {
    const record = this.shared?.get(clientSid, cid);
    if (record === undefined || !validId(cid) || !validId(record.replicaSystemId)) return undefined;
    const exp = Math.floor(record.exp / 1000) - this.epochSec;
    if (exp <= now || this.table.get(cid) !== undefined) return undefined;
    const pin = this.store(cid, clientSid, record.replicaSystemId, exp, "high");
    pin.recorded = true;
    return pin;
  }

  /** No pin: `strict` refuses channel frames, except the SecureOpen that creates the channel. */
  private miss(input: RouteInput): RouteDecision {
    this.counters.misses++;
    if (this.config.securityLevel === "strict" && input.opening !== true) {
      this.counters.refusals++;
      return UNKNOWN;
    }
    return NONE;
  }

  private hit(pin: Pin, now: number): RouteDecision {
    this.counters.hits++;
    this.table.touch(pin, now);
    return pin.replica.decision;
  }

  private pinChannel(info: SecureAcceptInfo, exp: number, trust: Trust): PinResult {
    const existing = this.live(info.cid, this.relNow());
    if (existing !== undefined && existing.clientSid !== info.clientSid)
      return this.refuse("channel_conflict");
    return this.pin(info.cid, info.clientSid, info.replicaId, exp, trust);
  }

  private pin(key: string, clientSid: string, replicaId: string, exp: number, trust: Trust): PinResult {
    const pin = this.store(key, clientSid, replicaId, exp, trust);
    return { pinned: true, replicaId, trust, expiresAtMs: (pin.exp + this.epochSec) * 1000 };
  }

  private store(key: string, clientSid: string, replicaId: string, exp: number, trust: Trust): Pin {
    const pin = this.table.set(key, clientSid, replicaId, exp, this.relNow(), trust);
    this.counters.pinsCreated++;
    while (this.table.size > this.config.maxEntries) {
      const oldest = this.table.oldest();
      if (oldest === undefined || oldest === pin) break;
      this.table.delete(oldest);
      this.counters.evictions++;
    }
    return pin;
  }

  private refuse(reason: PinRefusal): PinResult {
    this.counters.refusals++;
    return { pinned: false, reason };
  }

  /**
   * A signed tag checked with the replica's current key, then (a bad signature) with its older
   * ones: a replica that renewed its certificate signed the tags it gave out before with the
   * key it held then, valid until that certificate expires.
   */
  private async verifySigned(aft: string, expect: AftExpectation, replicaId: string): Promise<AftResult> {
    const result = await verifyAftWith(aft, expect, () => this.keys.get(replicaId));
    if (result.ok || result.reason !== "bad_signature") return result;
    const older = this.directory.replicaKeysOf?.(replicaId) ?? [];
    for (let i = 1; i < older.length; i++) {
      const retry = await verifyAftWith(aft, expect, () => joseKeyFromPublic(older[i]!));
      if (retry.ok) return retry;
    }
    return result;
  }

  private verifyFailed(reason: AftFailure): PinResult {
    this.counters.verifyFailures++;
    return { pinned: false, reason };
  }
}

function noKey(): undefined {
  return undefined;
}

/** a shared pin that could not be deleted ages out with the store's max age */
function noop(): void {}

function validId(s: string): boolean {
  return typeof s === "string" && s.length > 0 && s.length <= MAX_PIN_ID_LENGTH;
}

/** sid-only pins: per client, optionally per destination address (NUL cannot occur in either). */
function sidKey(clientSid: string, address: string | undefined): string {
  return address === undefined ? clientSid : `${clientSid}\u0000${address}`;
}

/** `header.payload.` with `alg: "none"`; cheap pre-check, the full check happens in checkUnsignedAft. */
function isUnsigned(token: string): boolean {
  if (!token.endsWith(".")) return false;
  const decoded = decodeAft(token);
  return decoded.ok && decoded.aft.unsigned;
}
