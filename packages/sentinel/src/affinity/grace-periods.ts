/**
 * Draining and unhealthy members keep the work they hold for the pool's draining timeout:
 * since when each one has been draining (per node) or unhealthy (per pool, as health is).
 */
import type { PoolPolicy } from "../pool-policy.js";
import type { PoolMember } from "../routing/replica-pool.js";

export class GracePeriods {
  private readonly drainingSince = new Map<string, number>();
  /** keyed by address + node id: health is per pool */
  private readonly unhealthySince = new Map<string, number>();

  constructor(private readonly now: () => number) {}

  /** the node announced (or was put into) draining: its grace period starts now */
  onDraining(nodeId: string): void {
    if (!this.drainingSince.has(nodeId)) this.drainingSince.set(nodeId, this.now());
  }

  /** draining ended (the operator resumed the node): its next drain starts a new grace period */
  onResumed(nodeId: string): void {
    this.drainingSince.delete(nodeId);
  }

  onNodeLeft(nodeId: string, addresses: readonly string[]): void {
    this.drainingSince.delete(nodeId);
    for (const address of addresses) this.unhealthySince.delete(healthKey(address, nodeId));
  }

  onHealthChange(address: string, nodeId: string, healthy: boolean): void {
    const key = healthKey(address, nodeId);
    if (healthy) this.unhealthySince.delete(key);
    else if (!this.unhealthySince.has(key)) this.unhealthySince.set(key, this.now());
  }

  /** Eligible, or draining/unhealthy for less than the pool's draining timeout. */
  within<N extends { id: string }>(address: string, member: PoolMember<N>, policy: PoolPolicy): boolean {
    if (member.healthy && !member.draining) return true;
    const id = member.node.id;
    const now = this.now();
    let since = Number.POSITIVE_INFINITY;
    if (member.draining) {
      // Drained without telling us (e.g. a re-bind kept the flag): the grace period starts now.
      if (!this.drainingSince.has(id)) this.drainingSince.set(id, now);
      since = Math.min(since, this.drainingSince.get(id)!);
    }
    if (!member.healthy) since = Math.min(since, this.unhealthySince.get(healthKey(address, id)) ?? now);
    return now - since < policy.drainingTimeoutSec * 1000;
  }
}

function healthKey(address: string, nodeId: string): string {
  return `${address}\u0000${nodeId}`;
}
