import type { Logger } from "@fame/logger";
import {
  checkLinkBatchEntry,
  decodeBinaryRecord,
  decodeEnvelope,
  type Envelope,
  type ErrorCode,
  isProtocolError,
  type Limits,
  makeEnvelope,
  ProtocolError,
  type SplitBatch,
  splitLinkBatch,
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
  /** link batches are taken (FAME_LINK_BATCH); off, a batch is a bad frame */
  linkBatch: boolean;
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

  /**
   * A link batch's entries, or undefined when the batch is refused as a whole like a bad frame
   * (malformed, too large, too many entries; from a connection not attached yet; batches off).
   */
  split(session: NodeSession, data: Buffer | string): SplitBatch | undefined {
    if (session.state !== "attached" || !this.deps.linkBatch) {
      const why =
        session.state === "attached" ? "link batches are not accepted" : "attach with a lone NodeAttach";
      this.badFrame(session, new ProtocolError("bad_envelope", "", why));
      return undefined;
    }
    try {
      return splitLinkBatch(data, this.limits);
    } catch (err) {
      this.badFrame(session, err);
      return undefined;
    }
  }

  /** one entry of a split batch, checked as strictly as a lone envelope; refused alone */
  entry(session: NodeSession, value: unknown): Envelope | undefined {
    let env: Envelope;
    try {
      env = checkLinkBatchEntry(value, this.limits);
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
