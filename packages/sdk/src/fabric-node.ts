import type { Logger } from "@fame/logger";
import {
  type BatchEntry,
  batchOf,
  CALLER_SID_META,
  CHANNEL_KEPT_META,
  CHANNEL_META_KEY,
  CLEAR_BATCH_META,
  type Envelope,
  type ErrorCode,
  jsonText,
  type MetaValue,
  MORE_META,
  NOT_EXECUTED_META,
  SESSION_END_META,
  SESSION_ID_META,
  type SecureAccept,
  type SecureOpen,
} from "@fame/protocol";
import { ChannelManager } from "./channel/channel-manager.js";
import { type OutgoingMessage, RecordCoalescer } from "./channel/record-coalescer.js";
import type { SecureChannel } from "./channel/secure-channel.js";
import type { ConnectionEvents, FabricConnection } from "./connection/fabric-connection.js";
import { ClearSender } from "./node/clear-sender.js";
import { Conversations } from "./node/conversations.js";
import { DeliveryMetas } from "./node/delivery-meta.js";
import type { FabricNodeOptions, FabricNodeParts } from "./node/fabric-node-options.js";
import { CHANNEL_LOST, codeOf, NOT_DELIVERED } from "./node/failure-codes.js";
import { idsAtDebug } from "./node/log-ids.js";
import {
  addressKind,
  coalescable,
  isFinalReply,
  isOnlyMore,
  isOnlyOffer,
  isStreamItem,
  MORE,
  stringMeta,
  withMore,
} from "./node/payload-shape.js";
import { badAddress, isFrameTooLarge, tooLargeAnswer, unsentError } from "./node/unsent.js";
import type { CallerIdentity } from "./rpc/call-context.js";
import type { RpcEndpoint } from "./rpc/endpoint.js";
import { FameRpcCode, RpcError, RpcErrorCode } from "./rpc/rpc-error.js";
import type { JsonValue, RpcInbound, RpcOutbound } from "./rpc/transport.js";

export type { FabricNodeOptions, FabricNodeParts } from "./node/fabric-node-options.js";
export { CHANNEL_META_KEY };

/**
 * After a reattach, how long a `no_route` is taken for a fabric still re-forming (replicas
 * re-attach within a second or two of a sentinel's restart) and retried, even for calls that
 * are not idempotent: a `no_route` was delivered nowhere.
 */
export const SETTLE_AFTER_REATTACH_MS = 5000;

/** the delivery meta of a clear stream item that came in a batch: one shared object */
const CLEAR_MORE: Readonly<Record<string, string>> = Object.freeze({ [MORE_META]: "true" });

/** The conversation headers of one outgoing RPC payload. */
interface SendMeta {
  corrId: string;
  meta?: Record<string, string>;
  /** a traced call's: told the channel it leaves on */
  onChannel?: (cid: string) => void;
  /** the payload's JSON text, made by the RPC layer (SendOptions.json) */
  json?: string;
  /** an answer to a request that came on this channel (SendOptions.channel): on it or not at all */
  channel?: string;
}

/**
 * Joins the RPC layer to the fabric: turns RPC payloads into (sealed) Data
 * envelopes and back, keeps each call on the channel it started on, and
 * translates the fabric's refusals into RPC failures the retry policy understands.
 */
export class FabricNode<E extends RpcInbound = RpcEndpoint> implements RpcOutbound, ConnectionEvents {
  readonly connection: FabricConnection;
  readonly channels: ChannelManager;
  readonly endpoint: E;
  /** ms epoch of the last Data or channel frame in or out: a draining replica waits for quiet */
  lastActivityAt = 0;
  private readonly conversations = new Conversations();
  /** undefined when coalescing is off */
  private readonly coalescer: RecordCoalescer | undefined;
  /** clear Data, coalesced per address like sealed records per channel */
  private readonly clear: ClearSender;
  private readonly deliveryMeta = new DeliveryMetas();

  constructor(
    parts: FabricNodeParts<E>,
    private readonly opts: FabricNodeOptions,
    private readonly log: Logger,
  ) {
    this.connection = parts.connection(this);
    this.channels = parts.channels(this.connection);
    const coalesce = opts.coalesce ?? true;
    const connection = this.connection;
    this.coalescer =
      coalesce === false
        ? undefined
        : new RecordCoalescer(
            (ch, to, messages) => this.sendRecord(ch, to, messages),
            coalesce === true ? {} : coalesce,
            () => connection.flushWrites(),
          );
    this.clear = new ClearSender(
      connection,
      coalesce,
      (corrId, code, reason) => {
        this.conversations.forget(corrId);
        return this.endpoint.failCall(corrId, code, reason, { notExecuted: true });
      },
      log,
    );
    this.endpoint = parts.endpoint(this);
  }

  get replyAddress(): string {
    return this.connection.replyAddress;
  }

  /**
   * Payloads leave as JSON text, sealed or in a clear envelope: callers that make it cheaply
   * pass it (SendOptions.json). Off with coalescing, whose paths are the ones that take it.
   */
  get prefersJsonText(): boolean {
    return this.coalescer !== undefined;
  }

  bind(address: string): Promise<void> {
    return this.connection.bind(address);
  }

  unbind(address: string): Promise<void> {
    return this.connection.unbind(address);
  }

  /**
   * Hands one RPC payload to the fabric. Synchronous (no promise) in the common case: the
   * conversation's channel, or an open one to its address, is known and the link is up.
   * Only a first call waiting for a channel, or a call waiting out a reconnect, returns a promise.
   */
  send(to: string, payload: JsonValue, m: SendMeta): Promise<void> | undefined {
    this.lastActivityAt = Date.now();
    // Replies go to physical addresses: only calls to a logical wait for the link or open a channel.
    const kind = addressKind(to);
    if (kind === "invalid") throw badAddress(to);
    const logical = kind === "logical";
    if (this.connection.state === "reconnecting" && logical) return this.sendWhenAttached(to, payload, m);
    return this.sendNow(to, payload, m, logical);
  }

  /** A verified envelope from the connection. */
  onEnvelope(env: Envelope): void {
    this.lastActivityAt = Date.now();
    const frame = env.frame;
    switch (frame.type) {
      case "Data":
        this.onData(env);
        return;
      case "DeliveryAck":
        if (!frame.ok) this.onNack(env, frame.code ?? "internal_error", frame.reason ?? "");
        return;
      case "SecureOpen":
        this.channels.onSecureOpen(env as Envelope<SecureOpen>).catch((err: unknown) => {
          this.log.error({ err }, "SecureOpen handling failed");
        });
        return;
      case "SecureAccept":
        this.channels.onSecureAccept(env as Envelope<SecureAccept>);
        return;
      case "SecureClose":
        this.channels.onSecureClose(env);
        return;
      default:
        this.log.debug({ type: frame.type }, "frame ignored");
    }
  }

  /**
   * The sentinel link dropped: whatever was in flight through it is gone (idempotent calls are
   * retried after the reattach, others fail: they may have run). Channels wait for the reattach.
   */
  onDisconnected(reason: string): void {
    this.channels.connectionLost();
    this.endpoint.failAll("replica_unavailable", reason, { notExecuted: false });
  }

  /** a no_route while the fabric around this node may still be re-forming (it re-attached moments ago) */
  private settlingNoRoute(code: string): boolean {
    return code === "no_route" && Date.now() - this.connection.reattachedAt < SETTLE_AFTER_REATTACH_MS;
  }

  /** Attached again: channels survive when the sid did. */
  onReattached(sameSid: boolean): void {
    this.channels.connectionRestored(sameSid);
  }

  // ───────────────────────── outgoing ─────────────────────────

  private async sendWhenAttached(to: string, payload: JsonValue, m: SendMeta): Promise<void> {
    await this.connection.whenAttached(this.opts.reconnectWaitMs ?? 5000);
    await this.sendNow(to, payload, m, true);
  }

  /** on the conversation's channel, an open one to `to`, or (returning a promise) a new one */
  private sendNow(to: string, payload: JsonValue, m: SendMeta, logical: boolean): Promise<void> | undefined {
    if (m.channel !== undefined) {
      // an answer to a request that came sealed: sealed on its channel, whatever the
      // conversation table says (audit round 12: a caller that flooded the table with junk
      // had other callers' answers sent in clear)
      const ch = this.channels.byId(m.channel);
      if (ch === undefined || ch.role !== "replica") {
        this.conversations.forget(m.corrId);
        this.answerChannelGone(to, m.corrId);
        throw new RpcError(
          RpcErrorCode.SERVER_ERROR,
          "the channel the request came on is gone: its answer is not sent in clear",
          FameRpcCode.CHANNEL_UNKNOWN,
        );
      }
      this.sendOn(ch, to, payload, m);
      return undefined;
    }
    let ch = this.conversations.get(m.corrId);
    if (!ch && this.opts.encryption === "channel" && logical) {
      const sessionId = m.meta?.[SESSION_ID_META];
      ch = this.channels.readyFor(to, sessionId);
      if (!ch) return this.sendOnNewChannel(to, payload, m, sessionId);
      this.joinChannel(ch, to, m, sessionId);
    }
    this.sendOn(ch, to, payload, m);
    return undefined;
  }

  private async sendOnNewChannel(
    to: string,
    payload: JsonValue,
    m: SendMeta,
    sessionId: string | undefined,
  ): Promise<void> {
    let ch: SecureChannel;
    try {
      ch = await this.channels.forAddress(to, sessionId);
    } catch (err) {
      const code = codeOf(err, "channel_unknown");
      if (this.settlingNoRoute(code)) {
        // answered like a sentinel's no_route to a message: the call waits the moment out
        this.endpoint.failCall(m.corrId, code, (err as Error).message, { notExecuted: true, settling: true });
        return;
      }
      throw new RpcError(RpcErrorCode.SERVER_ERROR, (err as Error).message, code, {
        notExecuted: true,
        cause: err,
      });
    }
    this.joinChannel(ch, to, m, sessionId);
    this.sendOn(ch, to, payload, m);
  }

  /** the call's conversation uses `ch` from now on */
  private joinChannel(ch: SecureChannel, to: string, m: SendMeta, sessionId: string | undefined): void {
    this.conversations.remember(m.corrId, ch);
    // The session's last call still uses its channel; later calls of that id open a new one.
    if (sessionId !== undefined && m.meta?.[SESSION_END_META] === "true")
      this.channels.endSession(to, sessionId);
  }

  /** sends on `ch` (sealed), or in plaintext without one; throws an RpcError when it cannot leave */
  private sendOn(ch: SecureChannel | undefined, to: string, payload: JsonValue, m: SendMeta): void {
    const more = isStreamItem(payload);
    if (ch !== undefined && m.onChannel !== undefined) m.onChannel(ch.cid);
    if (ch && this.coalescer && coalescable(m.meta)) {
      // leaves with whatever else this turn sends on the channel (see RecordCoalescer)
      this.coalescer.add(ch, to, { corrId: m.corrId, json: m.json ?? jsonText(payload), more });
      if (ch.role === "replica" && isFinalReply(payload)) this.conversations.forget(m.corrId);
      return;
    }
    if (ch === undefined) {
      try {
        this.clear.send(to, payload, m.corrId, m.meta, more, m.json);
      } catch (err) {
        this.conversations.forget(m.corrId);
        throw err;
      }
      return;
    }
    // A message with its own meta travels alone, after what is already queued on its channel.
    this.coalescer?.flush(ch);
    const meta = withMore(m.meta, more);
    const head = { corrId: m.corrId, ...(meta && Object.keys(meta).length > 0 ? { meta } : {}) };
    try {
      this.sendSealed(ch, to, head, m.json ?? jsonText(payload));
      if (ch.role === "replica" && isFinalReply(payload)) this.conversations.forget(m.corrId);
    } catch (err) {
      this.conversations.forget(m.corrId);
      throw unsentError(err, () => JSON.stringify(payload), this.connection.maxFrameBytes, true);
    }
  }

  /**
   * Seals `json` on `ch` as a Data envelope to `to` and sends it; throws when it cannot leave.
   * `head`: the conversation headers (none for a batch, whose entries name them).
   */
  private sendSealed(
    ch: SecureChannel,
    to: string,
    head: { corrId?: string; meta?: Record<string, MetaValue> },
    json: string,
    batch?: BatchEntry[],
  ): void {
    ch.lastUsedAt = this.lastActivityAt;
    this.connection.sendSealed(
      {
        to,
        replyTo: this.replyAddress,
        ...head,
        ...(ch.role === "client" && ch.aft && (this.opts.echoAft || ch.repinning) ? { aft: ch.aft } : {}),
        frame: { type: "Data", codec: "json", payload: null },
      },
      (env, binary) => ch.sealText(env, json, batch, binary),
    );
  }

  /** One sealed record: a lone message on its own, several as a batch (see RecordCoalescer). */
  private sendRecord(ch: SecureChannel, to: string, messages: OutgoingMessage[]): void {
    const first = messages[0]!;
    const single = messages.length === 1;
    try {
      if (single) {
        this.sendSealed(
          ch,
          to,
          first.more ? { corrId: first.corrId, meta: MORE } : { corrId: first.corrId },
          first.json,
        );
        return;
      }
      const batch: BatchEntry[] = new Array(messages.length);
      let json = "[";
      for (let i = 0; i < messages.length; i++) {
        const msg = messages[i]!;
        batch[i] = msg.more ? { corrId: msg.corrId, more: true } : { corrId: msg.corrId };
        json += i === 0 ? msg.json : `,${msg.json}`;
      }
      json += "]";
      this.sendSealed(ch, to, {}, json, batch);
    } catch (err) {
      // Too large for the sentinel as one record, though each message may fit: send it in halves.
      const tooLarge = isFrameTooLarge(err);
      if (!single && tooLarge) {
        const half = messages.length >> 1;
        this.sendRecord(ch, to, messages.slice(0, half));
        this.sendRecord(ch, to, messages.slice(half));
        return;
      }
      // Never sent: the callers' attempts fail as undelivered (and may be retried).
      const reason = unsentError(err, () => first.json, this.connection.maxFrameBytes, true).message;
      // After this node's own close (a stream's cancel racing the program's exit), nothing
      // unsent is news: only at debug.
      const fields = { ...idsAtDebug(this.log, { cid: ch.cid }), messages: messages.length, reason };
      if (this.connection.state === "closed") this.log.debug(fields, "channel record not sent");
      else this.log.warn(fields, "channel record not sent");
      // A reply too large for a frame: its caller is told so, instead of waiting out its timeout.
      if (tooLarge && ch.role === "replica") {
        try {
          this.sendSealed(
            ch,
            to,
            { corrId: first.corrId },
            JSON.stringify(tooLargeAnswer(first.corrId, reason)),
          );
        } catch {
          // the channel itself is gone: the caller learns it from the sentinel
        }
        return;
      }
      // an oversized single message says so; anything else is a link that is not there
      const code = tooLarge ? "frame_too_large" : "replica_unavailable";
      for (const msg of messages) {
        this.conversations.forget(msg.corrId);
        this.endpoint.failCall(msg.corrId, code, reason, { notExecuted: true });
      }
    }
  }

  // ───────────────────────── incoming ─────────────────────────

  private onNack(env: Envelope, code: string, reason: string): void {
    const corrId = env.corrId;
    if (!corrId) return;
    if (code === "caller_gone") {
      // the sentinel's word that a caller of an operation running here left: cancelled, so it
      // does not run on in a slot for nobody; nothing of this node's own calls is touched
      const caller = env.meta?.[CALLER_SID_META];
      if (this.connection.isSentinel(env.sid) && typeof caller === "string")
        this.endpoint.cancelServed?.(caller, corrId);
      return;
    }
    if (this.channels.failOpen(corrId, code, reason)) return;
    const ch = this.conversations.get(corrId);
    this.conversations.forget(corrId);
    // a replica that only moved to another sentinel still holds the channel: resend on it
    if (ch && CHANNEL_LOST.has(code) && env.meta?.[CHANNEL_KEPT_META] !== true)
      this.channels.invalidate(ch.cid);
    const notExecuted = NOT_DELIVERED.has(code) || env.meta?.[NOT_EXECUTED_META] === true;
    // just re-attached: replicas may still be binding again (a restarted sentinel), so a
    // no_route is waited out for a moment rather than taken as final
    const failed = this.endpoint.failCall(corrId, code, reason, {
      notExecuted,
      settling: this.settlingNoRoute(code),
    });
    // a batch of calls to a pool reached a replica that takes none: resent one by one. Only a
    // nack of a call of ours says so (anybody can send a nack naming no call), and the flag is
    // set in this turn, before the resend leaves.
    if (failed && code === "unknown_frame" && notExecuted) this.clear.poolBatchRefused();
  }

  private onData(env: Envelope): void {
    const frame = env.frame;
    if (frame.type !== "Data") return;
    const corrId = env.corrId ?? env.id;
    let payload: unknown;
    let ch: SecureChannel | undefined;
    /** the conversation was new, adopted for this message (a replica's channel) */
    let adopted = false;
    if (frame.codec === "enc") {
      const cid = env.sec?.enc?.cid ?? "";
      ch = this.channels.byId(cid);
      if (!ch || ch.peerSid !== env.sid) {
        // Behind a sticky sentinel this should not happen: it means a frame of a
        // channel reached a replica that does not hold it (or an expired one).
        this.log.warn(
          { ...idsAtDebug(this.log, { cid }), from: env.sid, known: ch !== undefined },
          "data for a channel not held here",
        );
        this.refuse(env, "channel_unknown", "no such channel here");
        return;
      }
      try {
        payload = ch.open(env);
      } catch (err) {
        const code = ChannelManager.errorCode(err);
        this.log.warn({ ...idsAtDebug(this.log, { cid }), code, from: env.sid }, "channel record refused");
        this.refuse(env, code, (err as Error).message);
        return;
      }
      ch.lastUsedAt = this.lastActivityAt;
      // the replica answered through the sentinel: the channel's pin is in place again
      ch.repinning = false;
      const batch = frame.batch;
      if (batch !== undefined) {
        this.onBatch(env, ch, batch, payload);
        return;
      }
      adopted = ch.role === "replica" && this.conversations.get(corrId) === undefined;
      if (!this.takesOnChannel(corrId, ch, env.meta?.[MORE_META] === true)) {
        this.refuseForeign(env, corrId);
        return;
      }
    } else {
      if (frame.batch !== undefined) {
        this.clear.peerTakesBatches(env.replyTo);
        this.onClearBatch(env, frame.batch, frame.payload);
        return;
      }
      if (this.callOnAnotherChannel(corrId, undefined)) {
        this.refuseForeign(env, corrId);
        return;
      }
      if (env.meta?.[CLEAR_BATCH_META] === true) this.clear.peerTakesBatches(env.replyTo);
      payload = frame.payload;
    }
    let meta: Record<string, string> | undefined;
    if (ch === undefined && isOnlyOffer(env.meta)) {
      // the common shapes of clear messages from this SDK: no object per message
      meta = env.meta?.[MORE_META] === true ? CLEAR_MORE : undefined;
    } else if (ch !== undefined && isOnlyMore(env.meta)) {
      // the common shapes, shared per channel: no object per message
      meta = env.meta === undefined ? this.deliveryMeta.of(ch).plain : this.deliveryMeta.of(ch).more;
    } else {
      meta = stringMeta(env.meta);
      if (meta) {
        delete meta[CHANNEL_META_KEY];
        delete meta[CLEAR_BATCH_META];
      }
      if (ch !== undefined) meta = { ...meta, [CHANNEL_META_KEY]: ch.cid };
    }
    // The sender as proven: the channel's peer (its keys opened the record) or the envelope's
    // sid (its signature verified, or in the open profile the sentinel checked it).
    const sender = ch === undefined ? env.sid : ch.peerSid;
    const caller = ch === undefined ? this.opts.identify?.(sender) : this.callerOf(ch);
    // absent members stay undefined: the RPC layer reads undefined as absent
    const fromSentinel = ch === undefined && this.connection.isSentinel(sender) ? true : undefined;
    const taken = this.endpoint.handleIncoming(payload, {
      corrId,
      from: env.replyTo,
      to: env.to,
      meta,
      sender,
      caller,
      fromSentinel,
    });
    if (taken === false) this.unanswered(env, corrId, adopted);
  }

  /**
   * A message to one of this node's served (logical) addresses, with a reply address, that
   * nothing here answers: a reply, control of no stream it runs, junk. The sentinel holds every
   * such message as a call until it is answered and takes a replica that leaves calls
   * unanswered for stalled (outlier ejection), so a caller could otherwise get an honest
   * replica ejected by sending it messages it rightly ignores (audit round 11). It is refused,
   * which answers it. `adopted`: its conversation was made for it alone, and is not kept (one
   * caller's junk must not fill the table other callers' conversations live in).
   */
  private unanswered(env: Envelope, corrId: string, adopted = false): void {
    if (adopted) this.conversations.forget(corrId);
    if (!env.replyTo || env.to === undefined || addressKind(env.to) !== "logical") return;
    try {
      this.sendNack(
        env,
        corrId,
        "bad_envelope",
        "nothing here answers it: not a request, nor control of a stream this replica runs",
      );
    } catch {
      // not connected: the sentinel drops what this node held
    }
  }

  /**
   * The answer to a sealed request whose channel is gone (its client closed it under the
   * running call, or it was evicted) is not sent in clear, but the call is still answered: a
   * nack naming it, with nothing of the result. The sentinel holds the call until something
   * names it, and takes a replica that leaves calls unanswered for stalled, so a client could
   * otherwise get an honest replica ejected by closing its own channel under slow calls (audit
   * round 13). Its code says the operation ran (`channel_closed`, not `channel_unknown`,
   * which proves a request never reached its agent): a caller retries only what is idempotent.
   */
  private answerChannelGone(to: string, corrId: string): void {
    try {
      this.connection.send({
        to,
        corrId,
        frame: {
          type: "DeliveryAck",
          ok: false,
          refId: corrId,
          code: "channel_closed",
          reason: "the channel the request came on is gone: its answer is not sent in clear",
        },
      });
    } catch {
      // not connected: the sentinel drops what this node held
    }
  }

  /** the channel peer's identity, looked up once per channel */
  private callerOf(ch: SecureChannel): CallerIdentity | undefined {
    if (ch.caller === undefined) ch.caller = this.opts.identify?.(ch.peerSid);
    return ch.caller;
  }

  /**
   * Replica side: the conversation `corrId` uses `ch` from now on, unless a live channel of
   * another peer already holds it: then a stranger reusing a caller's corrId would redirect
   * that caller's replies and stream items onto its own channel, so it is refused.
   */
  private adoptConversation(corrId: string, ch: SecureChannel): boolean {
    const held = this.conversations.get(corrId);
    if (
      held !== undefined &&
      held !== ch &&
      held.peerSid !== ch.peerSid &&
      this.channels.byId(held.cid) === held
    )
      return false;
    this.conversations.remember(corrId, ch);
    return true;
  }

  /**
   * A message of conversation `corrId` opened on `ch` (`more`: a stream item, more follow):
   * false when it belongs to another caller's channel (replica side, adoptConversation) or
   * answers a call this node placed on another channel (caller side, callOnAnotherChannel).
   * A caller's conversation ends with its last message.
   */
  private takesOnChannel(corrId: string, ch: SecureChannel, more: boolean): boolean {
    if (ch.role === "replica") return this.adoptConversation(corrId, ch);
    if (this.callOnAnotherChannel(corrId, ch)) return false;
    if (!more) this.conversations.forget(corrId);
    return true;
  }

  /**
   * Caller side: did this node place call `corrId` on one of its channels other than `ch`
   * (undefined: a clear message)? Then the message is not that call's answer: only the
   * channel's replica can seal on it, and anybody who learned the call's id could send a
   * clear "answer" (the sentinel refuses one that names the call, I15; this is the node's own
   * check, whatever reaches it).
   */
  private callOnAnotherChannel(corrId: string, ch: SecureChannel | undefined): boolean {
    const held = this.conversations.get(corrId);
    return held !== undefined && held !== ch && held.role === "client";
  }

  private refuseForeign(env: Envelope, corrId: string): void {
    this.log.warn({ from: env.sid }, "message naming another caller's conversation refused");
    try {
      this.sendNack(env, corrId, "not_authorized", "the conversation belongs to another caller");
    } catch {
      // not connected: nothing to tell
    }
  }

  /** the messages of an opened coalesced record, each delivered as if it had come alone */
  private onBatch(env: Envelope, ch: SecureChannel, batch: readonly BatchEntry[], payloads: unknown): void {
    if (!Array.isArray(payloads) || payloads.length !== batch.length) {
      // authentic (it opened) yet malformed: a broken sender; none of it is delivered
      this.log.warn(
        { ...idsAtDebug(this.log, { cid: ch.cid }), from: env.sid, entries: batch.length },
        "batched record does not match its list",
      );
      this.refuse(env, "bad_envelope", "batched record does not match its message list");
      return;
    }
    const from = env.replyTo;
    const to = env.to;
    const metas = this.deliveryMeta.of(ch);
    const sender = ch.peerSid;
    const caller = this.callerOf(ch);
    for (let i = 0; i < batch.length; i++) {
      const { corrId, more } = batch[i]!;
      const adopted = ch.role === "replica" && this.conversations.get(corrId) === undefined;
      if (!this.takesOnChannel(corrId, ch, more === true)) {
        this.refuseForeign(env, corrId);
        continue;
      }
      const taken = this.endpoint.handleIncoming(payloads[i], {
        corrId,
        from,
        to,
        meta: more === true ? metas.more : metas.plain,
        sender,
        caller,
      });
      if (taken === false) this.unanswered(env, corrId, adopted);
    }
  }

  /**
   * The messages of a clear batch, each delivered as if it had come alone. The decoder checked
   * that the payload is an array with one entry per message, and the sender as for a lone one.
   */
  private onClearBatch(env: Envelope, batch: readonly BatchEntry[], payload: JsonValue): void {
    const payloads = payload as JsonValue[];
    const sender = env.sid;
    const caller = this.opts.identify?.(sender);
    // the sentinel's health probes to several agents of this node come batched
    const fromSentinel = this.connection.isSentinel(sender) ? true : undefined;
    for (let i = 0; i < batch.length; i++) {
      const { corrId, more } = batch[i]!;
      if (this.callOnAnotherChannel(corrId, undefined)) {
        this.refuseForeign(env, corrId);
        continue;
      }
      const taken = this.endpoint.handleIncoming(payloads[i]!, {
        corrId,
        from: env.replyTo,
        to: env.to,
        meta: more === true ? CLEAR_MORE : undefined,
        sender,
        caller,
        fromSentinel,
      });
      if (taken === false) this.unanswered(env, corrId);
    }
  }

  /** negative DeliveryAck(s) to the sender: one per conversation the refused envelope carried */
  private refuse(env: Envelope, code: ErrorCode, reason: string): void {
    if (!env.replyTo) return;
    const batch = batchOf(env);
    try {
      if (batch === undefined) this.sendNack(env, env.corrId ?? env.id, code, reason);
      else for (const entry of batch) this.sendNack(env, entry.corrId, code, reason);
    } catch {
      // not connected: the caller's timeout answers
    }
  }

  private sendNack(env: Envelope, corrId: string, code: ErrorCode, reason: string): void {
    this.connection.send({
      to: env.replyTo,
      corrId,
      frame: { type: "DeliveryAck", ok: false, refId: env.id, code, reason },
      meta: { [NOT_EXECUTED_META]: true },
    });
  }
}
