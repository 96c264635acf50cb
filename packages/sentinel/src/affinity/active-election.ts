/**
 * Sticky-active election for single-active pools: one member takes every call. The active
 * member keeps its role while it stays eligible (attached, healthy, not draining); when it
 * stops being eligible the earliest-bound eligible member is promoted. The pool keeps members
 * in bind order, so the choice is deterministic and needs no clock.
 */
import type { ReplicaPool } from "../routing/replica-pool.js";

export interface Election<N> {
  /** undefined: no member is eligible */
  node: N | undefined;
  /** this call changed the active member (including from none to one) */
  promoted: boolean;
  /** the member that held the role before, when it changed */
  previous: string | undefined;
}

export class ActiveElection {
  private readonly active = new Map<string, string>();

  /** The active member of the pool at `address`, electing one when needed. */
  elect<N extends { id: string }>(address: string, pool: ReplicaPool<N> | undefined): Election<N> {
    const current = this.active.get(address);
    if (current !== undefined && pool?.isEligible(current)) {
      return { node: pool.get(current), promoted: false, previous: undefined };
    }
    let next: N | undefined;
    if (pool !== undefined) {
      for (const m of pool.eligibleMembers()) {
        next = m.node;
        break;
      }
    }
    if (next === undefined) {
      this.active.delete(address);
      return { node: undefined, promoted: false, previous: current };
    }
    this.active.set(address, next.id);
    return { node: next, promoted: true, previous: current };
  }

  /** The member holding the role now, without electing. */
  activeOf(address: string): string | undefined {
    return this.active.get(address);
  }

  forget(address: string): void {
    this.active.delete(address);
  }
}
