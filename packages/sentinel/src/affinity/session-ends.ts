/**
 * Session ends waiting for their reply: a client's last call of a session (`session-end`)
 * frees its replica once the replica has answered that call, not while it is still running it.
 */
import { countDown, countUp } from "../keyed-counts.js";
import { principalOf } from "./session-table.js";

interface PendingEnd {
  address: string;
  sessionId: string;
  /** who held the session when its end was asked for: an end never removes someone else's */
  owner: string | undefined;
  replicaId: string;
  deadline: number;
}

/** ends waiting for their reply; beyond it a session ends when its last call is forwarded */
export const MAX_PENDING_ENDS = 100_000;
/**
 * The most one principal's sessions hold of them: a credential holder whose processes end
 * sessions with calls that are never answered must not leave every other client's ends to
 * take effect early (a replica of an exclusive pool handed on while it still runs a last call).
 */
export const MAX_PENDING_ENDS_PER_PRINCIPAL = 10_000;

export class PendingSessionEnds {
  private readonly pending = new Map<string, PendingEnd>();
  /** pending ends per principal (the owner's part before its NUL) */
  private readonly perPrincipal = new Map<string, number>();

  /** `end`: the session end takes effect (answered, replica gone, or overdue) */
  constructor(
    private readonly now: () => number,
    private readonly end: (address: string, sessionId: string, owner: string | undefined) => void,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  /** Wait for `replicaId`'s final reply to `requesterId` for `corrId`; false when full. */
  wait(
    address: string,
    sessionId: string,
    owner: string | undefined,
    replicaId: string,
    requesterId: string,
    corrId: string,
    ttlMs: number,
  ): boolean {
    if (this.pending.size >= MAX_PENDING_ENDS) return false;
    const principal = principalOfOwner(owner);
    if ((this.perPrincipal.get(principal) ?? 0) >= MAX_PENDING_ENDS_PER_PRINCIPAL) return false;
    const key = endKey(replicaId, requesterId, corrId);
    // the same call named again (a resent frame) takes the place it held
    const before = this.pending.get(key);
    if (before !== undefined) countDown(this.perPrincipal, principalOfOwner(before.owner));
    countUp(this.perPrincipal, principal);
    this.pending.set(key, {
      address,
      sessionId,
      owner,
      replicaId,
      deadline: this.now() + ttlMs,
    });
    return true;
  }

  onReply(replicaId: string, requesterId: string, corrId: string): void {
    if (this.pending.size === 0) return;
    const key = endKey(replicaId, requesterId, corrId);
    const pending = this.pending.get(key);
    if (pending !== undefined) this.settle(key, pending);
  }

  /** The client asked to end the session; its replica is gone, so nothing is left to wait for. */
  onNodeLeft(nodeId: string): void {
    if (this.pending.size === 0) return;
    for (const [key, pending] of this.pending) if (pending.replicaId === nodeId) this.settle(key, pending);
  }

  /** overdue ends take effect (bounded work) */
  sweep(maxWork: number): void {
    if (this.pending.size === 0) return;
    const now = this.now();
    let seen = 0;
    for (const [key, pending] of this.pending) {
      if (++seen > maxWork) break;
      if (pending.deadline <= now) this.settle(key, pending);
    }
  }

  private settle(key: string, pending: PendingEnd): void {
    this.pending.delete(key);
    countDown(this.perPrincipal, principalOfOwner(pending.owner));
    this.end(pending.address, pending.sessionId, pending.owner);
  }
}

function endKey(replicaId: string, requesterId: string, corrId: string): string {
  return `${replicaId}\u0000${requesterId}\u0000${corrId}`;
}

/** the session table's principalOf; ends of sessions with no known owner share one key */
function principalOfOwner(owner: string | undefined): string {
  return owner === undefined ? "" : principalOf(owner);
}
