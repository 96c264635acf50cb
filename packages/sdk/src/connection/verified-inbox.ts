import type { Logger } from "@fame/logger";
import type { Envelope, ErrorCode, FreshnessWindow } from "@fame/protocol";
import type { PeerKey, PeerKeyDirectory } from "./peer-keys.js";

/** envelopes waiting behind a key fetch; beyond it a flood of unknown kids is dropped */
const MAX_INBOX_DEPTH = 10_000;
/** refused replays are logged at most once per this many ms (a replay flood must not flood logs) */
const REPLAY_LOG_INTERVAL_MS = 1000;

export interface InboxOutlets {
  /** a verified (or sealed) envelope, in arrival order */
  deliver(env: Envelope): void;
  /** `env` failed verification (or freshness) with `outcome`, answered with `code` */
  refuse(env: Envelope, code: ErrorCode, outcome: string): void;
  /** asks the sentinel for the key `kid` */
  fetchKey(kid: string): Promise<PeerKey | undefined>;
}

/**
 * Peer envelopes on their way in: each is verified end to end against its sender's key before
 * delivery, and delivered in arrival order even when a key has to be fetched first. While the
 * queue is empty and the key is known, delivery is synchronous: no promise per envelope.
 */
export class VerifiedInbox {
  private queue: Promise<void> = Promise.resolve();
  private depth = 0;
  /** a full inbox is logged once, not once per dropped envelope */
  private overflowLogged = false;
  private replayLoggedAt = 0;
  private replaysUnlogged = 0;
  /** refused for freshness so far: stale timestamps and ids seen before */
  readonly refused = { stale: 0, replay: 0 };

  constructor(
    private readonly peerKeys: PeerKeyDirectory,
    private readonly log: Logger,
    private readonly out: InboxOutlets,
    /** signed envelopes must also be fresh: inside the skew window and not seen before */
    private readonly freshness?: FreshnessWindow,
  ) {}

  /**
   * Sealed channel data: unsigned by design (FabricNode opens it with the keys of the channel
   * its sender shook hands on, in signed SecureOpen/SecureAccept), only kept in order.
   */
  sealed(env: Envelope): void {
    if (this.depth === 0) this.out.deliver(env);
    else this.enqueue(env, () => this.out.deliver(env));
  }

  /** a signed peer envelope: verified, then delivered */
  signed(env: Envelope): void {
    const kid = env.sec?.sig?.kid;
    const known = kid ? this.peerKeys.get(kid) : undefined;
    if (known && this.depth === 0) {
      this.verifyAndDeliver(env, known);
      return;
    }
    this.enqueue(env, async () => {
      const key = kid ? await this.peerKeys.resolve(kid, () => this.out.fetchKey(kid)) : undefined;
      this.verifyAndDeliver(env, key);
    });
  }

  /** runs `task` after every envelope queued before it; one failing task must not stall the rest */
  private enqueue(env: Envelope, task: () => void | Promise<void>): void {
    if (this.depth >= MAX_INBOX_DEPTH) {
      if (!this.overflowLogged) {
        this.log.warn({ from: env.sid, depth: this.depth }, "inbox full: envelopes dropped");
        this.overflowLogged = true;
      }
      return;
    }
    this.overflowLogged = false;
    this.depth++;
    this.queue = this.queue
      .then(task)
      .catch((err: unknown) => {
        this.log.warn({ from: env.sid, err: (err as Error).message }, "queued envelope dropped");
      })
      .finally(() => {
        this.depth--;
      });
  }

  private verifyAndDeliver(env: Envelope, key: PeerKey | undefined): void {
    const outcome = key ? this.peerKeys.verify(env, key) : env.sec?.sig ? "unknown_key" : "unsigned";
    if (outcome !== "ok") {
      this.log.warn(
        { from: env.sid, type: env.frame.type, outcome },
        "envelope failed end-to-end verification",
      );
      this.out.refuse(env, "signature_invalid", outcome);
      return;
    }
    // After the signature: only the proven sender's own ids are remembered, so a stranger
    // cannot fill another sender's window or make its envelopes look like replays.
    if (this.freshness !== undefined) {
      const now = Date.now();
      const fresh = this.freshness.check(env.sid, env.id, env.ts, now);
      if (fresh !== "ok") {
        this.refused[fresh]++;
        this.logRefusal(env, fresh, now);
        this.out.refuse(env, fresh === "stale" ? "stale_envelope" : "replay", fresh);
        return;
      }
    }
    this.out.deliver(env);
  }

  private logRefusal(env: Envelope, fresh: "stale" | "replay", now: number): void {
    if (now - this.replayLoggedAt < REPLAY_LOG_INTERVAL_MS) {
      this.replaysUnlogged++;
      return;
    }
    this.log.warn(
      { from: env.sid, type: env.frame.type, outcome: fresh, alsoRefused: this.replaysUnlogged },
      "signed envelope refused: not fresh",
    );
    this.replayLoggedAt = now;
    this.replaysUnlogged = 0;
  }
}
