import type { Logger } from "@fame/logger";
import { makeEnvelope } from "@fame/protocol";
import { CLOSE } from "../close-codes.js";
import { FRAME_CLOSE, FRAME_NACK, FRAME_OK, type FrameRateLimiter } from "../limits/frame-rate.js";
import { LogThrottle } from "../limits/log-throttle.js";
import type { NodeSession } from "../node-session.js";
import type { SentinelCounters } from "../sentinel-counters.js";
import type { DeliverStage } from "./deliver-stage.js";

export interface RateDeps {
  sid: string;
  limiter: FrameRateLimiter;
  counters: SentinelCounters;
  deliver: DeliverStage;
  log: Logger;
  /** ends a connection closed for flooding */
  close(session: NodeSession, why: string): void;
}

const REASON = "frame rate above FAME_MAX_FRAMES_PER_SEC";

/**
 * The rate stage, first in receive(): every frame of a connection takes a token from its bucket
 * before anything parses it (bad frames too). Admitting a frame is one call with no allocation;
 * only the rare answers (one nack per many refusals, the close) build anything.
 */
export class RateStage {
  private readonly limiter: FrameRateLimiter;
  /** refusal logs across all connections: a flood from many connections must not flood the log */
  private readonly refusedLog = new LogThrottle();

  constructor(private readonly deps: RateDeps) {
    this.limiter = deps.limiter;
  }

  /** true when the frame may go on; otherwise it was refused, counted and perhaps answered */
  admit(session: NodeSession, now: number): boolean {
    const verdict = this.limiter.admit(session.frames, now);
    if (verdict === FRAME_OK) return true;
    this.refuse(session, verdict);
    return false;
  }

  private refuse(session: NodeSession, verdict: number): void {
    const d = this.deps;
    d.counters.rateLimited++;
    if (verdict === FRAME_CLOSE) {
      d.counters.rateLimitClosed++;
      d.log.warn(
        {
          remote: session.link.remote,
          systemId: session.systemId || undefined,
          refused: session.frames.refused,
        },
        "connection closed: sustained frame flood",
      );
      session.link.close(CLOSE.policy, "rate_limited");
      d.close(session, "rate_limited");
      return;
    }
    if (verdict !== FRAME_NACK) return;
    if (this.refusedLog.hit())
      d.log.warn(
        {
          remote: session.link.remote,
          systemId: session.systemId || undefined,
          refused: session.frames.refused,
          total: this.refusedLog.total,
        },
        "frames refused: rate limit",
      );
    // The frame was not parsed (that is the point), so the answer cannot name it.
    d.deliver.send(
      session,
      makeEnvelope({
        sid: d.sid,
        frame: { type: "DeliveryAck", ok: false, refId: "unknown", code: "rate_limited", reason: REASON },
      }),
    );
  }
}
