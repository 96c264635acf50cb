import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { StateBus } from "@fame/state";

/**
 * How sentinels reach each other: each one listens on its own address and publishes to a
 * peer's. Over NATS the address is the core (not JetStream) subject `fame.sentinel.<id>`: NATS
 * is the sentinels' private network, which nodes never reach, so what arrives there was sent
 * by a peer sentinel.
 */
export interface SentinelLinks {
  /**
   * Start hearing messages for this sentinel; `onMessage` must not throw. `from` is the peer
   * when the transport itself authenticated it (a direct link): the message must name it as
   * its source.
   */
  listen(onMessage: (data: Uint8Array, from?: string) => void): void;
  /** fire and forget: a sentinel that is gone loses the message, as a closed socket would */
  publish(sentinelId: string, data: Uint8Array): void;
  /** stop listening (messages already queued may still arrive) */
  close(): void;
  /** a peer's link upgrade at CLUSTER_LINK_PATH (transports with direct links only) */
  acceptUpgrade?(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** the status page's `cluster.links` (transports with direct links only) */
  describe?(): Record<string, unknown>;
}

export const SENTINEL_SUBJECT_PREFIX = "fame.sentinel.";

/** The subject a sentinel listens on; its id is a subject token (no dots, spaces or wildcards). */
export function sentinelSubject(sentinelId: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(sentinelId))
    throw new RangeError(`sentinel id ${JSON.stringify(sentinelId)} cannot name a NATS subject`);
  return SENTINEL_SUBJECT_PREFIX + sentinelId;
}

/** Links over the shared state's bus: core NATS subjects in a cluster. */
export class BusSentinelLinks implements SentinelLinks {
  private readonly subjects = new Map<string, string>();
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly bus: StateBus,
    private readonly sentinelId: string,
  ) {}

  listen(onMessage: (data: Uint8Array) => void): void {
    this.unsubscribe = this.bus.subscribe(sentinelSubject(this.sentinelId), onMessage);
  }

  publish(sentinelId: string, data: Uint8Array): void {
    let subject = this.subjects.get(sentinelId);
    if (subject === undefined) {
      subject = sentinelSubject(sentinelId);
      this.subjects.set(sentinelId, subject);
    }
    this.bus.publish(subject, data);
  }

  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }
}
