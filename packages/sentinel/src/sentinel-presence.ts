import type { Logger } from "@fame/logger";
import type { SentinelRegistry } from "@fame/state";

export interface SentinelPresenceOptions {
  registry: SentinelRegistry;
  sentinelId: string;
  /** the wss attach URL nodes use for this sentinel (FAME_PUBLIC_URL) */
  publicUrl: string;
  /** attached nodes now: Welcome places new nodes on the least loaded live sentinel */
  nodes: () => number;
  log: Logger;
  /** how often the node count is looked at; the registry itself refreshes the record every 2 s */
  everyMs?: number;
}

/**
 * This sentinel's entry in the cluster's sentinel registry: its public URL and node count, so
 * Welcome can hand nodes the live sentinels. The registry keeps the record fresh; this only
 * re-advertises when the count changed (or a previous advert failed), and withdraws at close
 * so Welcome stops placing nodes here at once rather than when the record ages out.
 */
export class SentinelPresence {
  private timer: NodeJS.Timeout | undefined;
  private advertised: number | undefined;
  private writing = false;

  constructor(private readonly opts: SentinelPresenceOptions) {}

  /** first advert now (resolves when recorded or failed), then a look every `everyMs` */
  async start(): Promise<void> {
    await this.advertise();
    this.timer = setInterval(() => {
      if (this.opts.nodes() !== this.advertised) void this.advertise();
    }, this.opts.everyMs ?? 2000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    try {
      await this.opts.registry.withdraw(this.opts.sentinelId);
    } catch (err) {
      // the record ages out of the registry on its own
      this.opts.log.warn({ err: (err as Error).message }, "sentinel advert not withdrawn");
    }
  }

  private async advertise(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    const nodes = this.opts.nodes();
    try {
      await this.opts.registry.advertise({
        sentinelId: this.opts.sentinelId,
        publicUrl: this.opts.publicUrl,
        nodes,
      });
      this.advertised = nodes;
    } catch (err) {
      this.advertised = undefined;
      this.opts.log.debug({ err: (err as Error).message }, "sentinel advert not recorded");
    } finally {
      this.writing = false;
    }
  }
}
