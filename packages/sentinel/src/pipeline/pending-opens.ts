/** A SecureOpen forwarded to a replica and not yet answered by its SecureAccept. */
export interface PendingOpen {
  readonly key: string;
  /** the replica asked: only its SecureAccept can pin the channel */
  readonly replicaId: string;
  /** who opened it: pending opens count against the client's channel quota */
  readonly clientSid: string;
  /** the logical address the channel was opened to */
  readonly address: string;
  readonly deadline: number;
  /** its SecureAccept is being pinned: it still counts against the quota, a second accept does not pin */
  accepting: boolean;
}

/** How many channels a client has pinned (the sticky table). */
export interface PinCounts {
  pinsOfClient(clientSid: string): number;
}

export const OPEN_TIMEOUT_MS = 30_000;

/**
 * Channel opens awaiting their accept, and the per-client channel quota they count against:
 * a client holds its pinned channels plus its pending opens, so a burst of opens cannot slip
 * past the quota while the first accepts are still on their way (or being pinned).
 */
export class PendingOpens {
  private readonly opens = new Map<string, PendingOpen>();
  /** pending opens per client sid */
  private readonly perClient = new Map<string, number>();

  constructor(
    readonly maxChannelsPerClient: number,
    private readonly pins: PinCounts | undefined,
    private readonly now: () => number,
    private readonly timeoutMs = OPEN_TIMEOUT_MS,
  ) {}

  get size(): number {
    return this.opens.size;
  }

  /** channels `clientSid` holds against its quota: pinned or opening */
  held(clientSid: string): number {
    return (this.pins?.pinsOfClient(clientSid) ?? 0) + (this.perClient.get(clientSid) ?? 0);
  }

  /** Records an open of `cid` sent to `replicaId`; a repeated open replaces, never double-counts. */
  add(clientSid: string, cid: string, replicaId: string, address: string): PendingOpen {
    const key = openKey(clientSid, cid);
    const previous = this.opens.get(key);
    if (previous !== undefined) this.drop(previous);
    const open: PendingOpen = {
      key,
      replicaId,
      clientSid,
      address,
      deadline: this.now() + this.timeoutMs,
      accepting: false,
    };
    this.opens.set(key, open);
    this.perClient.set(clientSid, (this.perClient.get(clientSid) ?? 0) + 1);
    return open;
  }

  get(clientSid: string, cid: string): PendingOpen | undefined {
    return this.opens.get(openKey(clientSid, cid));
  }

  /** `open` is no longer pending; a no-op when it was already dropped or replaced */
  drop(open: PendingOpen): void {
    if (this.opens.get(open.key) !== open) return;
    this.opens.delete(open.key);
    const n = (this.perClient.get(open.clientSid) ?? 1) - 1;
    if (n > 0) this.perClient.set(open.clientSid, n);
    else this.perClient.delete(open.clientSid);
  }

  /** drops the opens whose accept is overdue */
  sweep(now: number): void {
    // Opens are (re)inserted with now + timeout, so map order is deadline order: stop at the first live one.
    for (const open of this.opens.values()) {
      if (open.deadline > now) break;
      this.drop(open);
    }
  }
}

function openKey(clientSid: string, cid: string): string {
  return `${clientSid}\u0000${cid}`;
}
