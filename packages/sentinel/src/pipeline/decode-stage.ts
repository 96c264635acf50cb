import type { Logger } from "@fame/logger";
import {
  decodeBinaryRecord,
  decodeEnvelope,
  type Envelope,
  type ErrorCode,
  isProtocolError,
  type Limits,
  makeEnvelope,
} from "@fame/protocol";
import { CLOSE } from "../close-codes.js";
import type { NodeSession } from "../node-session.js";
import type { SentinelCounters } from "../sentinel-counters.js";
import type { AuthenticateStage } from "./authenticate-stage.js";
import type { DeliverStage } from "./deliver-stage.js";
import { showEnvelope } from "./envelope-log.js";

export interface DecodeDeps {
  sid: string;
  /** decode limits, resolved once: every frame is checked against them */
  limits: Readonly<Limits>;
  counters: SentinelCounters;
  log: Logger;
  showEnvelopes: boolean;
  deliver: DeliverStage;
  /** a connection whose first frame does not decode is refused its attach */
  authenticate: AuthenticateStage;
}

/**
 * The decode stage: bytes to a well-formed envelope within the frame limits. A frame that
 * does not decode is counted and answered (an attaching connection is refused), never routed.
 */
export class DecodeStage {
  private readonly limits: Readonly<Limits>;
  private readonly showEnvelopes: boolean;

  constructor(private readonly deps: DecodeDeps) {
    this.limits = deps.limits;
    this.showEnvelopes = deps.showEnvelopes;
  }

  /** `binary`: a binary message, which only a sealed record may be (protocol's binary-record) */
  decode(session: NodeSession, data: Buffer | string, binary = false): Envelope | undefined {
    let env: Envelope;
    try {
      env =
        binary && typeof data !== "string"
          ? decodeBinaryRecord(data, this.limits)
          : decodeEnvelope(data, this.limits);
    } catch (err) {
      this.badFrame(session, err);
      return undefined;
    }
    if (this.showEnvelopes) showEnvelope(this.deps.log, "in", session, env);
    return env;
  }

  private badFrame(session: NodeSession, err: unknown): void {
    const d = this.deps;
    d.counters.badFrames++;
    const code: ErrorCode = isProtocolError(err) ? err.code : "bad_envelope";
    const reason = err instanceof Error ? err.message : "undecodable frame";
    // Log the first few per session, then every 100th: a flood must not flood the logs too.
    if (session.badFrameLog.hit()) {
      d.log.warn(
        {
          code,
          reason,
          remote: session.link.remote,
          systemId: session.systemId || undefined,
          total: session.badFrameLog.total,
        },
        "bad frame refused",
      );
    }
    if (session.state === "attaching") {
      d.authenticate.refuseAttach(session, code, reason, CLOSE.policy);
      return;
    }
    d.deliver.send(
      session,
      makeEnvelope({
        sid: d.sid,
        frame: { type: "DeliveryAck", ok: false, refId: "unknown", code, reason },
      }),
    );
  }
}
