import type { Logger } from "@fame/logger";
import {
  BINARY_BATCH_RECORD_TAG,
  batchOf,
  type Envelope,
  type ErrorCode,
  encodeBinaryRecord,
  encodeEnvelope,
  encodeRecordAsText,
  isBinaryRecord,
  isProtocolError,
  type Limits,
  nackFor,
} from "@fame/protocol";
import type { NodeSession } from "../node-session.js";
import type { SentinelCounters } from "../sentinel-counters.js";
import { showEnvelope } from "./envelope-log.js";
import type { RouteRequest } from "./route-request.js";

/** a reader this far behind is not sent more: it would only grow our memory */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

export interface DeliverDeps {
  /** the sentinel's sid: what it sends itself goes out under it, unsigned */
  sid: string;
  counters: SentinelCounters;
  log: Logger;
  showEnvelopes: boolean;
  /** this sentinel's frame limits: a binary record's text form must fit them too */
  limits: Readonly<Limits>;
}

/**
 * The deliver stage: the one way out to a connection. A routed frame goes on as it was
 * received; refusals (nacks) and the sentinel's own answers go through here too.
 */
export class DeliverStage {
  private readonly sid: string;
  private readonly counters: SentinelCounters;
  private readonly log: Logger;
  private readonly showEnvelopes: boolean;
  private readonly limits: Readonly<Limits>;
  /** the code of the last refusal sent: a traced frame's span reads it (route-trace.ts) */
  lastNackCode: string | undefined = undefined;

  constructor(deps: DeliverDeps) {
    this.sid = deps.sid;
    this.counters = deps.counters;
    this.log = deps.log;
    this.showEnvelopes = deps.showEnvelopes;
    this.limits = deps.limits;
  }

  /** the routed frame, on to the node routing chose */
  forward(req: RouteRequest, target: NodeSession): void {
    if (isBinaryRecord(req.env)) this.forwardRecord(req, target);
    else this.send(target, req.raw ?? encodeEnvelope(req.env), req.env);
  }

  /**
   * A binary sealed record: its bytes as received to a node that announced binary records, its
   * text form to one that did not (a node of an older release).
   */
  private forwardRecord(req: RouteRequest, target: NodeSession): void {
    const link = target.link;
    if (!target.binaryRecords || link.sendBinary === undefined || req.raw === undefined) {
      const text = this.recordText(req);
      if (text !== undefined) this.send(target, text, req.env);
      return;
    }
    if (target.state === "closed") return;
    if (link.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.dropped(target);
      return;
    }
    if (this.showEnvelopes) showEnvelope(this.log, "out", target, req.env);
    const raw = req.raw as Buffer;
    if (raw[0] === BINARY_BATCH_RECORD_TAG && !target.binaryBatch) {
      // a node of an older release: the list goes back into the header (the 0x01 form)
      const first = this.recordBytesFor(req);
      if (first !== undefined) link.sendBinary(first);
      return;
    }
    link.sendBinary(raw);
  }

  /** a 0x02 record in the 0x01 form; undefined: refused (the sender hears why) */
  private recordBytesFor(req: RouteRequest): Uint8Array | undefined {
    try {
      return encodeBinaryRecord(req.env, this.limits);
    } catch (err) {
      const code = isProtocolError(err) ? err.code : "bad_envelope";
      this.nack(req.session, req.env, code, "the receiving node takes batch lists in the header only", true);
      return undefined;
    }
  }

  /** the frame as text for a cluster peer (a binary record in its text form); undefined: refused */
  clusterText(req: RouteRequest): string | Buffer | undefined {
    if (isBinaryRecord(req.env)) return this.recordText(req);
    return req.raw ?? encodeEnvelope(req.env);
  }

  /** a binary record's text form (base64url, a third larger); too large for it: the sender hears why */
  private recordText(req: RouteRequest): string | undefined {
    try {
      return encodeRecordAsText(req.env, this.limits);
    } catch (err) {
      const code = isProtocolError(err) ? err.code : "bad_envelope";
      this.nack(
        req.session,
        req.env,
        code,
        "the receiving node takes sealed records as text only, where this one exceeds FAME_MAX_FRAME_BYTES",
        true,
      );
      return undefined;
    }
  }

  /** a frame for `target` dropped: it has not read its last 16 MiB (logged the first times, then one in 100) */
  private dropped(target: NodeSession): void {
    this.counters.slowReaderDropped++;
    if (target.dropLog.hit())
      this.log.warn(
        { systemId: target.systemId, dropped: target.dropLog.total },
        "peer not reading: frame dropped",
      );
  }

  /** `shown`: the envelope behind an already encoded text, for FAME_SHOW_ENVELOPES */
  send(target: NodeSession, envOrText: Envelope | string | Buffer, shown?: Envelope): void {
    if (target.state === "closed") return;
    if (target.link.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.dropped(target);
      return;
    }
    const text =
      typeof envOrText === "string" || Buffer.isBuffer(envOrText) ? envOrText : encodeEnvelope(envOrText);
    if (this.showEnvelopes) showEnvelope(this.log, "out", target, shown ?? (envOrText as Envelope));
    target.link.send(text);
  }

  /**
   * Refuses `env` to its sender: one negative DeliveryAck per conversation it carried (a
   * coalesced record carries several). `notExecuted`: nothing of it reached a node, so the
   * sender may retry elsewhere.
   */
  nack(session: NodeSession, env: Envelope, code: ErrorCode, reason: string, notExecuted = false): void {
    this.counters.refused++;
    this.lastNackCode = code;
    if (code === "channel_unknown") this.log.debug({ systemId: session.systemId, code, reason }, "refused");
    else if (session.refusalLog.hit())
      this.log.warn(
        {
          systemId: session.systemId,
          code,
          reason,
          type: env.frame.type,
          refusals: session.refusalLog.total,
        },
        "refused",
      );
    const batch = batchOf(env);
    const answers = batch?.length ?? 1;
    for (let i = 0; i < answers; i++) {
      const ack = nackFor(env, code, reason, { sid: this.sid });
      if (batch !== undefined) ack.corrId = batch[i]!.corrId;
      if (notExecuted) ack.meta = { notExecuted: true };
      this.send(session, ack);
    }
  }
}
