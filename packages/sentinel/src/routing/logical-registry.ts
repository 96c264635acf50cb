import { coverageOf, parseLogicalAddress } from "./address.js";
import { type PoolMemberStats, ReplicaPool } from "./replica-pool.js";

export type BindMode = "pooled" | "exclusive";
export type BindErrorCode =
  | "address_conflict"
  | "logical_not_granted"
  | "bad_address"
  | "too_many_bindings"
  /** refused by the access policy before the registry was asked */
  | "not_authorized";

export type BindResult =
  /** `again`: the node held the address already (an idempotent rebind: nothing changed) */
  { ok: true; mode: BindMode; again?: true } | { ok: false; code: BindErrorCode; reason: string };

export interface LogicalRegistryOptions<N = unknown> {
  /** Addresses one node may hold. Default 256. */
  maxAddressesPerNode?: number;
  /** Members in one pool. Default 1024. */
  maxMembersPerPool?: number;
  /** Addresses across the whole registry. Default 100 000. */
  maxAddresses?: number;
  /**
   * Who answers for a node (its credential): the nodes of one owner together hold at most
   * `maxBindingsPerOwner` addresses. Without it only the per-node bound applies.
   */
  ownerOf?: (node: N) => string;
  /** Default 4096. */
  maxBindingsPerOwner?: number;
}

export interface PoolSnapshot {
  address: string;
  mode: BindMode;
  /** at most MAX_LISTED_MEMBERS of them */
  members: PoolMemberStats[];
  /** present when the pool has more members than are listed */
  memberCount?: number;
}

/** members one pool lists in a status page: the page must stay readable, whoever joined */
export const MAX_LISTED_MEMBERS = 256;

export interface RegistrySnapshot {
  addresses: number;
  nodes: number;
  pools: PoolSnapshot[];
  /** True when `limit` cut the pool list short. */
  truncated: boolean;
}

interface Binding<N extends { id: string }> {
  mode: BindMode;
  pool: ReplicaPool<N>;
}

export const DEFAULT_MAX_ADDRESSES_PER_NODE = 256;
export const DEFAULT_MAX_ADDRESSES = 100_000;
export const DEFAULT_MAX_BINDINGS_PER_OWNER = 4096;

/**
 * Which nodes hold which logical addresses. Addresses covered by a wildcard grant form
 * replica pools; addresses covered only by an exact grant belong to one node. Lookups are a
 * single Map get; removing a node touches only its own addresses via a reverse index.
 */
export class LogicalRegistry<N extends { id: string }> {
  private readonly bindings = new Map<string, Binding<N>>();
  private readonly byNode = new Map<string, Set<string>>();
  private readonly maxPerNode: number;
  private readonly maxMembers: number;
  private readonly maxAddresses: number;
  private readonly ownerOf: ((node: N) => string) | undefined;
  private readonly maxPerOwner: number;
  /** bindings held per owner, and the owner each bound node was counted under */
  private readonly perOwner = new Map<string, number>();
  private readonly ownerOfNode = new Map<string, string>();

  constructor(options: LogicalRegistryOptions<N> = {}) {
    this.maxPerNode = positiveInt(
      options.maxAddressesPerNode ?? DEFAULT_MAX_ADDRESSES_PER_NODE,
      "maxAddressesPerNode",
    );
    this.maxMembers = positiveInt(options.maxMembersPerPool ?? 1024, "maxMembersPerPool");
    this.maxAddresses = positiveInt(options.maxAddresses ?? DEFAULT_MAX_ADDRESSES, "maxAddresses");
    this.ownerOf = options.ownerOf;
    this.maxPerOwner = positiveInt(
      options.maxBindingsPerOwner ?? DEFAULT_MAX_BINDINGS_PER_OWNER,
      "maxBindingsPerOwner",
    );
  }

  /** Number of bound addresses. */
  get size(): number {
    return this.bindings.size;
  }

  bind(address: string, node: N, acceptedLogicals: readonly string[]): BindResult {
    const parsed = parseLogicalAddress(address);
    if (parsed === undefined) return fail("bad_address", `not a logical address: ${clip(address)}`);
    const coverage = coverageOf(parsed.logical, acceptedLogicals);
    if (coverage === undefined) {
      return fail(
        "logical_not_granted",
        `logical ${parsed.logical} is not covered by the node's accepted logicals (a node asks for them at admission: FAME_REQUESTED_LOGICALS, e.g. *.fame.fabric)`,
      );
    }
    const mode: BindMode = coverage === "wildcard" ? "pooled" : "exclusive";
    const existing = this.bindings.get(address);

    if (existing !== undefined) {
      if (existing.pool.has(node.id)) {
        // Idempotent rebind: keep the established mode; refresh the node object only.
        existing.pool.add(node);
        return { ok: true, mode: existing.mode, again: true };
      }
      if (existing.mode === "exclusive") return fail("address_conflict", `${address} is held exclusively`);
      if (mode === "exclusive") {
        return fail(
          "address_conflict",
          `${address} is held by a replica pool; an exclusive bind needs it free`,
        );
      }
      const room = this.roomFor(node);
      if (room !== undefined) return room;
      if (existing.pool.add(node) === "full") {
        return fail("too_many_bindings", `pool ${address} has the maximum of ${this.maxMembers} members`);
      }
      this.index(node, address);
      return { ok: true, mode };
    }

    const room = this.roomFor(node);
    if (room !== undefined) return room;
    if (this.bindings.size >= this.maxAddresses) {
      return fail("too_many_bindings", `registry holds the maximum of ${this.maxAddresses} addresses`);
    }
    const pool = new ReplicaPool<N>({ maxMembers: this.maxMembers });
    pool.add(node);
    this.bindings.set(address, { mode, pool });
    this.index(node, address);
    return { ok: true, mode };
  }

  /** Remove one node from one address; an emptied pool is deleted. */
  unbind(address: string, nodeId: string): boolean {
    const binding = this.bindings.get(address);
    if (binding === undefined || !binding.pool.remove(nodeId)) return false;
    if (binding.pool.size === 0) this.bindings.delete(address);
    const mine = this.byNode.get(nodeId);
    if (mine?.delete(address)) this.uncount(nodeId, 1);
    if (mine?.size === 0) this.byNode.delete(nodeId);
    return true;
  }

  /** Remove a node from every address it holds; returns those addresses. O(its addresses). */
  removeNode(nodeId: string): string[] {
    const mine = this.byNode.get(nodeId);
    if (mine === undefined) return [];
    this.byNode.delete(nodeId);
    this.uncount(nodeId, mine.size);
    const removed = [...mine];
    for (const address of removed) {
      const binding = this.bindings.get(address);
      if (binding === undefined) continue;
      binding.pool.remove(nodeId);
      if (binding.pool.size === 0) this.bindings.delete(address);
    }
    return removed;
  }

  resolve(address: string): ReplicaPool<N> | undefined {
    return this.bindings.get(address)?.pool;
  }

  modeOf(address: string): BindMode | undefined {
    return this.bindings.get(address)?.mode;
  }

  /** the addresses `nodeId` binds, as held (no copy): for checks on every frame */
  boundBy(nodeId: string): ReadonlySet<string> | undefined {
    return this.byNode.get(nodeId);
  }

  addressesOf(nodeId: string): string[] {
    const mine = this.byNode.get(nodeId);
    return mine === undefined ? [] : [...mine];
  }

  /** Mark a node draining (or not) in every pool it belongs to; O(its addresses). */
  setDraining(nodeId: string, draining: boolean): void {
    for (const address of this.byNode.get(nodeId) ?? [])
      this.bindings.get(address)?.pool.setDraining(nodeId, draining);
  }

  /** Mark a node healthy (or not) in every pool it belongs to; O(its addresses). */
  setHealthy(nodeId: string, healthy: boolean): void {
    for (const address of this.byNode.get(nodeId) ?? [])
      this.bindings.get(address)?.pool.setHealthy(nodeId, healthy);
  }

  /**
   * A JSON-friendly view for a status page; `limit` bounds how many pools are listed. When they
   * do not all fit, the pools `first` names (the configured ones) come first, then the busiest:
   * a crowd of idle pools one credential bound cannot push the ones that serve out of the view.
   */
  snapshot(limit = 1000, first?: (address: string) => boolean): RegistrySnapshot {
    let order: Iterable<[string, Binding<N>]> = this.bindings;
    if (this.bindings.size > limit) {
      const ranked: [entry: [string, Binding<N>], rank: number][] = [];
      for (const entry of this.bindings) {
        let requests = 0;
        for (const m of entry[1].pool.members()) requests += m.requests;
        ranked.push([entry, first?.(entry[0]) === true ? Number.POSITIVE_INFINITY : requests]);
      }
      ranked.sort((a, b) => b[1] - a[1]);
      order = ranked.slice(0, limit).map(([entry]) => entry);
    }
    const pools: PoolSnapshot[] = [];
    for (const [address, binding] of order) {
      if (pools.length >= limit) break;
      const members = binding.pool.stats();
      pools.push(
        members.length > MAX_LISTED_MEMBERS
          ? {
              address,
              mode: binding.mode,
              members: members.slice(0, MAX_LISTED_MEMBERS),
              memberCount: members.length,
            }
          : { address, mode: binding.mode, members },
      );
    }
    return {
      addresses: this.bindings.size,
      nodes: this.byNode.size,
      pools,
      truncated: pools.length < this.bindings.size,
    };
  }

  /** a refusal when `node` (or its owner's nodes together) may hold no more addresses */
  private roomFor(node: N): BindResult | undefined {
    if ((this.byNode.get(node.id)?.size ?? 0) >= this.maxPerNode)
      return fail("too_many_bindings", `node holds the maximum of ${this.maxPerNode} addresses`);
    const owner = this.ownerOfNode.get(node.id) ?? this.ownerOf?.(node);
    if (owner !== undefined && (this.perOwner.get(owner) ?? 0) >= this.maxPerOwner) {
      return fail(
        "too_many_bindings",
        `the nodes of this node's credential hold the maximum of ${this.maxPerOwner} addresses`,
      );
    }
    return undefined;
  }

  private index(node: N, address: string): void {
    let mine = this.byNode.get(node.id);
    if (mine === undefined) {
      mine = new Set();
      this.byNode.set(node.id, mine);
    }
    if (mine.has(address)) return;
    mine.add(address);
    const owner = this.ownerOfNode.get(node.id) ?? this.ownerOf?.(node);
    if (owner === undefined) return;
    this.ownerOfNode.set(node.id, owner);
    this.perOwner.set(owner, (this.perOwner.get(owner) ?? 0) + 1);
  }

  private uncount(nodeId: string, n: number): void {
    const owner = this.ownerOfNode.get(nodeId);
    if (owner === undefined) return;
    const left = (this.perOwner.get(owner) ?? 0) - n;
    if (left > 0) this.perOwner.set(owner, left);
    else this.perOwner.delete(owner);
    if (!this.byNode.get(nodeId)?.size) this.ownerOfNode.delete(nodeId);
  }
}

function fail(code: BindErrorCode, reason: string): BindResult {
  return { ok: false, code, reason };
}

/** Addresses in error text are attacker-supplied: keep them short. */
function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 80)}…` : JSON.stringify(s);
}

function positiveInt(n: number, name: string): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${name} must be a positive integer`);
  return n;
}

/**
 * The wire error code (protocol `ErrorCode`) to answer a refused bind with: the registry's own
 * codes are finer-grained than the wire's, and `bad_address`/`too_many_bindings` have no wire twin.
 */
export const BIND_ERROR_WIRE_CODE = {
  address_conflict: "address_conflict",
  logical_not_granted: "logical_not_granted",
  bad_address: "bad_envelope",
  too_many_bindings: "not_authorized",
  not_authorized: "not_authorized",
} as const satisfies Record<BindErrorCode, string>;
