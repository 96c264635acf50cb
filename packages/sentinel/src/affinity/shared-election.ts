/**
 * Single-active election across the sentinels of a cluster. The role is a lease in the shared
 * ElectionStore: a sentinel claims it only for a member attached to itself (it alone knows that
 * member's health and draining first-hand), renews it while that member stays eligible, and
 * gives it up when it stops being so. The store decides races (revision-checked writes: of two
 * claimants exactly one wins), and a takeover is only possible once the lease has run out, so
 * two members are never both active. Every sentinel routes to the holder only while the lease
 * is live by its own clock: a sentinel cut off from the store stops routing to its member when
 * the lease it can no longer renew ends, which is when another sentinel may take over.
 */
import type { Logger } from "@fame/logger";
import type { ElectionStore } from "@fame/state";
import type { ReplicaPool } from "../routing/replica-pool.js";
import type { Election } from "./active-election.js";

export interface SharedElectionDeps {
  store: ElectionStore;
  sentinelId: string;
  /** true when the node is attached to this sentinel (only those are claimed from here) */
  isLocal: (nodeId: string) => boolean;
  log: Logger;
  /** lease length; renewed every third of it */
  leaseMs?: number;
}

/** the role is held for this long without a renewal (renewed every second by the server) */
const DEFAULT_LEASE_MS = 3000;

export class SharedElection {
  /** the holder each address last reported, to tell a promotion from a repeat */
  private readonly reported = new Map<string, string>();
  /** the lease each address was last claimed with from here (holder and epoch): changes are logged */
  private readonly claimed = new Map<string, string>();
  /** addresses with a claim, renewal or release on its way to the store */
  private readonly writing = new Set<string>();
  private readonly leaseMs: number;

  constructor(private readonly deps: SharedElectionDeps) {
    this.leaseMs = deps.leaseMs ?? DEFAULT_LEASE_MS;
  }

  /**
   * The active member of the pool at `address`: the holder of a live lease, when this sentinel
   * sees it as an eligible member. With no live lease a claim for a local member goes out and
   * the answer is "none" until the store has decided (the caller refuses with NOT_ACTIVE).
   */
  elect<N extends { id: string }>(address: string, pool: ReplicaPool<N> | undefined): Election<N> {
    const rec = this.deps.store.current(address);
    let node: N | undefined;
    if (rec === undefined) this.claim(address, pool);
    else if (pool?.isEligible(rec.holder)) node = pool.get(rec.holder);
    // detached, draining or unhealthy here: the sentinel that claimed it lets it go at once
    else if (rec.sentinelId === this.deps.sentinelId) this.release(address, rec.holder);
    const previous = this.reported.get(address);
    if (node === undefined) {
      this.reported.delete(address);
      return { node: undefined, promoted: false, previous };
    }
    if (previous === node.id) return { node, promoted: false, previous: undefined };
    this.reported.set(address, node.id);
    return { node, promoted: true, previous };
  }

  /** The member holding a live lease now, without electing. */
  activeOf(address: string): string | undefined {
    return this.deps.store.current(address)?.holder;
  }

  forget(address: string): void {
    this.reported.delete(address);
  }

  /**
   * Periodic (every third of the lease): renew the leases this sentinel holds for eligible
   * local members, give up those whose member is no longer eligible, and claim pools nobody
   * holds. Writes are fire-and-forget; a failed renewal just lets the lease run out.
   */
  tick<N extends { id: string }>(
    addresses: Iterable<string>,
    resolve: (a: string) => ReplicaPool<N> | undefined,
  ): void {
    for (const address of addresses) {
      const pool = resolve(address);
      const rec = this.deps.store.current(address);
      if (rec === undefined) {
        this.claim(address, pool);
        continue;
      }
      // only the sentinel that claimed a lease renews or gives it up
      if (rec.sentinelId !== this.deps.sentinelId) continue;
      if (pool?.isEligible(rec.holder) && this.deps.isLocal(rec.holder)) this.renew(address, rec.holder);
      else this.release(address, rec.holder);
    }
  }

  /** the store's watched record, when its lease is live by this process's wall clock */

  /** claims the role for the first eligible member attached here (bind order: deterministic) */
  private claim<N extends { id: string }>(address: string, pool: ReplicaPool<N> | undefined): void {
    if (pool === undefined || this.writing.has(address)) return;
    let candidate: string | undefined;
    for (const m of pool.eligibleMembers()) {
      if (this.deps.isLocal(m.node.id)) {
        candidate = m.node.id;
        break;
      }
    }
    if (candidate === undefined) return;
    const { store, sentinelId, log } = this.deps;
    this.write(
      address,
      store.claim(address, { holder: candidate, sentinelId, leaseMs: this.leaseMs }).then((rec) => {
        const lease = `${rec.holder}\u0000${rec.epoch}`;
        if (rec.holder !== candidate || this.claimed.get(address) === lease) return;
        this.claimed.set(address, lease);
        log.info({ address, holder: candidate, epoch: rec.epoch }, "claimed the active role");
      }),
    );
  }

  private renew(address: string, holder: string): void {
    if (this.writing.has(address)) return;
    const { store, log } = this.deps;
    this.write(
      address,
      store.renew(address, holder, this.leaseMs).then((rec) => {
        if (rec === undefined) log.warn({ address, holder }, "lost the active role's lease");
      }),
    );
  }

  private release(address: string, holder: string): void {
    if (this.writing.has(address)) return;
    this.write(address, this.deps.store.release(address, holder));
  }

  private write(address: string, pending: Promise<void>): void {
    this.writing.add(address);
    pending
      .catch((err: unknown) => {
        // the store unreachable: the lease simply runs out; the next tick tries again
        this.deps.log.debug({ address, err: (err as Error).message }, "election write failed");
      })
      .finally(() => this.writing.delete(address));
  }
}
