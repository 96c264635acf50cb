import { memberHash } from "./hash.js";

/** The mutable per-member state a pool keeps; strategies read it, only the pool writes it. */
export interface PoolMember<N extends { id: string }> {
  readonly node: N;
  /** Work currently running on this member (acquire/release). */
  readonly inflight: number;
  /** Work ever started on this member (acquire). */
  readonly requests: number;
  readonly draining: boolean;
  readonly healthy: boolean;
  /** Pre-mixed member hash for HRW, computed once at add. */
  readonly hash: number;
}

/** A plain snapshot of one member for status pages. */
export interface PoolMemberStats {
  id: string;
  inflight: number;
  requests: number;
  draining: boolean;
  healthy: boolean;
}

export interface ReplicaPoolOptions {
  /** Hard cap on members; `add` answers "full" beyond it. Default 1024. */
  maxMembers?: number;
}

export type PoolAddResult = "added" | "updated" | "full";

interface Slot<N extends { id: string }> {
  node: N;
  inflight: number;
  requests: number;
  draining: boolean;
  healthy: boolean;
  hash: number;
  index: number;
}

export const DEFAULT_MAX_POOL_MEMBERS = 1024;
/** Random picks try this many slots before falling back to a scan (tombstones or draining). */
const RANDOM_TRIES = 4;
/** Below this many holes compaction is not worth it. */
const MIN_HOLES_TO_COMPACT = 8;

/**
 * The members bound to one address. Members sit in an insertion-ordered slot array with an
 * id index, so add/remove/has are O(1); removal leaves a hole that is compacted once holes
 * outnumber members (amortised O(1)), which keeps insertion order without a linked list and
 * still gives strategies indexed access for random picks.
 */
export class ReplicaPool<N extends { id: string }> {
  readonly maxMembers: number;
  private readonly byId = new Map<string, Slot<N>>();
  private slots: (Slot<N> | undefined)[] = [];
  private holes = 0;
  private eligible = 0;
  /** Round-robin cursor: the slot index to try next. */
  private rr = 0;

  constructor(options: ReplicaPoolOptions = {}) {
    const max = options.maxMembers ?? DEFAULT_MAX_POOL_MEMBERS;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxMembers must be a positive integer`);
    this.maxMembers = max;
  }

  get size(): number {
    return this.byId.size;
  }

  /** Members that may take new work: healthy and not draining. */
  get eligibleCount(): number {
    return this.eligible;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  get(id: string): N | undefined {
    return this.byId.get(id)?.node;
  }

  member(id: string): PoolMember<N> | undefined {
    return this.byId.get(id);
  }

  /**
   * Add a member, or replace the node object of an existing one (a re-attach keeps its counters
   * and flags, so a draining member does not become eligible just by binding again).
   */
  add(node: N): PoolAddResult {
    const existing = this.byId.get(node.id);
    if (existing !== undefined) {
      existing.node = node;
      return "updated";
    }
    if (this.byId.size >= this.maxMembers) return "full";
    const slot: Slot<N> = {
      node,
      inflight: 0,
      requests: 0,
      draining: false,
      healthy: true,
      hash: memberHash(node.id),
      index: this.slots.length,
    };
    this.slots.push(slot);
    this.byId.set(node.id, slot);
    this.eligible++;
    return "added";
  }

  remove(id: string): boolean {
    const slot = this.byId.get(id);
    if (slot === undefined) return false;
    this.byId.delete(id);
    this.slots[slot.index] = undefined;
    this.holes++;
    if (isEligible(slot)) this.eligible--;
    if (this.byId.size === 0) {
      this.slots = [];
      this.holes = 0;
      this.rr = 0;
    } else if (this.holes >= MIN_HOLES_TO_COMPACT && this.holes * 2 > this.slots.length) {
      this.compact();
    }
    return true;
  }

  setDraining(id: string, draining: boolean): boolean {
    return this.setFlags(id, (s) => {
      s.draining = draining;
    });
  }

  setHealthy(id: string, healthy: boolean): boolean {
    return this.setFlags(id, (s) => {
      s.healthy = healthy;
    });
  }

  isEligible(id: string): boolean {
    const slot = this.byId.get(id);
    return slot !== undefined && isEligible(slot);
  }

  /** Count new work on a member (both counters); false if it is not in the pool. */
  acquire(id: string): boolean {
    const slot = this.byId.get(id);
    if (slot === undefined) return false;
    slot.inflight++;
    slot.requests++;
    return true;
  }

  /** Finish work on a member; never goes below zero, so a stray release cannot skew picks. */
  release(id: string): boolean {
    const slot = this.byId.get(id);
    if (slot === undefined) return false;
    if (slot.inflight > 0) slot.inflight--;
    return true;
  }

  /** Member nodes in insertion order. */
  *nodes(): IterableIterator<N> {
    for (const slot of this.slots) if (slot !== undefined) yield slot.node;
  }

  /** Members in insertion order, with their counters and flags. */
  *members(): IterableIterator<PoolMember<N>> {
    for (const slot of this.slots) if (slot !== undefined) yield slot;
  }

  /** Members that may take new work, in insertion order. */
  *eligibleMembers(): IterableIterator<PoolMember<N>> {
    for (const slot of this.slots) if (slot !== undefined && isEligible(slot)) yield slot;
  }

  stats(): PoolMemberStats[] {
    const out: PoolMemberStats[] = [];
    for (const s of this.members()) {
      out.push({
        id: s.node.id,
        inflight: s.inflight,
        requests: s.requests,
        draining: s.draining,
        healthy: s.healthy,
      });
    }
    return out;
  }

  /** The next eligible member after the round-robin cursor, advancing the cursor past it. */
  nextRoundRobin(): PoolMember<N> | undefined {
    const n = this.slots.length;
    if (this.eligible === 0 || n === 0) return undefined;
    for (let i = 0; i < n; i++) {
      const idx = (this.rr + i) % n;
      const slot = this.slots[idx];
      if (slot !== undefined && isEligible(slot)) {
        this.rr = idx + 1 === n ? 0 : idx + 1;
        return slot;
      }
    }
    return undefined;
  }

  /**
   * A uniformly random eligible member, other than `except` if given. Rejection sampling over
   * the slot array is O(1) when most slots are eligible; after a few misses a scan picks the
   * k-th candidate. Both branches are uniform over the candidates, so their mix is too.
   */
  randomMember(random: () => number, except?: PoolMember<N>): PoolMember<N> | undefined {
    const n = this.slots.length;
    const candidates =
      this.eligible - (except !== undefined && isEligible(except) && this.owns(except) ? 1 : 0);
    if (candidates <= 0) return undefined;
    for (let t = 0; t < RANDOM_TRIES; t++) {
      const slot = this.slots[indexFrom(random(), n)];
      if (slot !== undefined && slot !== except && isEligible(slot)) return slot;
    }
    let k = indexFrom(random(), candidates);
    for (const slot of this.slots) {
      if (slot !== undefined && slot !== except && isEligible(slot)) {
        if (k === 0) return slot;
        k--;
      }
    }
    return undefined;
  }

  private owns(member: PoolMember<N>): boolean {
    return this.byId.get(member.node.id) === member;
  }

  private setFlags(id: string, change: (s: Slot<N>) => void): boolean {
    const slot = this.byId.get(id);
    if (slot === undefined) return false;
    const before = isEligible(slot);
    change(slot);
    const after = isEligible(slot);
    if (before !== after) this.eligible += after ? 1 : -1;
    return true;
  }

  private compact(): void {
    const next: Slot<N>[] = [];
    let rr = 0;
    for (let i = 0; i < this.slots.length; i++) {
      const slot = this.slots[i];
      // Keep the cursor on the same member (or the next live one) across the move.
      if (i === this.rr) rr = next.length;
      if (slot === undefined) continue;
      slot.index = next.length;
      next.push(slot);
    }
    this.slots = next;
    this.holes = 0;
    this.rr = rr >= next.length ? 0 : rr;
  }
}

function isEligible(s: { draining: boolean; healthy: boolean }): boolean {
  return s.healthy && !s.draining;
}

/** Map a `[0, 1)` random value to an index; clamps so a generator returning 1 cannot overflow. */
function indexFrom(r: number, n: number): number {
  const i = Math.floor(r * n);
  return Math.min(n - 1, Math.max(0, i));
}
