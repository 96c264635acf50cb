/**
 * Sends clear (unsealed) Data: what one turn sends to one physical address (a caller's replies
 * and stream items, calls to one node) leaves as one envelope with a `batch` list, as the
 * channel coalescer does for sealed records, so the sentinel parses, checks, routes (and in
 * the overlay profiles verifies a signature for) one envelope instead of one per message.
 * Only an address whose node offered to take batches gets them (CLEAR_BATCH_META on its
 * messages, which every lone clear message of this SDK carries): a hand-written client or an
 * older SDK is answered one message per envelope. Calls to a logical address are batched only
 * when the sentinel said at attach that it places a batch on one replica that takes them
 * (`poolBatches`): the sentinel then spreads batches, not calls, over the pool, as it does with
 * a channel's records. A message with its own meta (a session key, a trace), or estimated larger
 * than LONE_CLEAR_UNITS, travels alone, after what is already queued for its address.
 */
import type { Logger } from "@fame/logger";
import {
  type BatchEntry,
  CLEAR_BATCH_META,
  isProtocolError,
  type JsonValue,
  type MetaValue,
  MORE_META,
} from "@fame/protocol";
import { type CoalescerLimits, TurnCoalescer } from "../channel/record-coalescer.js";
import type { FabricConnection } from "../connection/fabric-connection.js";
import { type ClearMessage, jsonUnitsAtMost, LONE_CLEAR_UNITS } from "./clear-batch.js";
import { addressKind, coalescable, withMore } from "./payload-shape.js";
import { isFrameTooLarge, tooLargeAnswer, unsentAnswer, unsentError } from "./unsent.js";

/** the meta of a clear message offering to take clear batches, and of a stream item doing so */
const OFFER: Readonly<Record<string, MetaValue>> = Object.freeze({ [CLEAR_BATCH_META]: true });
const MORE_OFFER: Readonly<Record<string, MetaValue>> = Object.freeze({
  [MORE_META]: true,
  [CLEAR_BATCH_META]: true,
});
/** peers remembered as taking clear batches; past this the memory starts over (re-learnt) */
const MAX_BATCH_PEERS = 4096;

const clearUnits = (m: ClearMessage): number => m.units;

/** Fails the local call `corrId` (false when this node has no such call: it was a reply). */
export type FailCall = (corrId: string, code: string, reason: string) => boolean;

export class ClearSender {
  /** undefined when coalescing is off */
  private readonly coalescer: TurnCoalescer<string, ClearMessage> | undefined;
  /** addresses whose node offered to take clear batches (CLEAR_BATCH_META, or a batch it sent) */
  private readonly batchPeers = new Set<string>();
  /** a sentinel refused a batch to a pool (a replica that takes none): calls to pools go alone */
  private poolBatchesRefused = false;

  constructor(
    private readonly connection: FabricConnection,
    coalesce: boolean | Partial<CoalescerLimits>,
    private readonly failCall: FailCall,
    private readonly log: Logger,
  ) {
    this.coalescer =
      coalesce === false
        ? undefined
        : new TurnCoalescer<string, ClearMessage>(
            (to, _to, messages) => this.emit(to, messages),
            clearUnits,
            coalesce === true ? {} : coalesce,
            () => connection.flushWrites(),
          );
  }

  /**
   * Sends `payload` to `to`, now or with the rest of this turn's messages to `to`. Throws
   * (an RpcError) only when a message sent alone cannot leave; a queued one that cannot leave
   * fails its call through `failCall`.
   */
  send(
    to: string,
    payload: JsonValue,
    corrId: string,
    meta: Record<string, string> | undefined,
    more: boolean,
    /** the payload's JSON text, when the RPC layer made it (SendOptions.json) */
    json?: string,
  ): void {
    if (this.coalescer !== undefined && coalescable(meta) && this.takesBatches(to)) {
      const units = json?.length ?? jsonUnitsAtMost(payload, LONE_CLEAR_UNITS);
      if (units <= LONE_CLEAR_UNITS) {
        this.coalescer.add(to, to, { corrId, payload, more, units, json });
        return;
      }
    }
    this.coalescer?.flush(to);
    const offer = more ? MORE_OFFER : OFFER;
    const m =
      this.coalescer === undefined
        ? withMore(meta, more)
        : meta === undefined
          ? offer
          : { ...meta, ...offer };
    try {
      this.sendAlone(to, corrId, payload, m, json);
    } catch (err) {
      throw unsentError(err, () => JSON.stringify(payload), this.connection.maxFrameBytes, false);
    }
  }

  /**
   * The node at `address` takes clear batches: it said so on a message from that address (the
   * sentinel checked that the address is the sender's own), or sent a batch from it. Only
   * physical addresses are remembered: a batch goes to one node.
   */
  peerTakesBatches(address: string | undefined): void {
    if (this.coalescer === undefined || address === undefined || this.batchPeers.has(address)) return;
    if (addressKind(address) !== "physical") return;
    if (this.batchPeers.size >= MAX_BATCH_PEERS) this.batchPeers.clear();
    this.batchPeers.add(address);
  }

  /**
   * A sentinel refused a clear batch because the replica it chose takes none (a node of another
   * implementation in the pool): from now on calls to logical addresses travel one per envelope.
   * The refused calls were not delivered and are resent by the RPC layer.
   */
  poolBatchRefused(): void {
    if (this.poolBatchesRefused) return;
    this.poolBatchesRefused = true;
    this.log.warn("a replica takes no batched calls: calls to pools travel one per envelope from now on");
  }

  private takesBatches(to: string): boolean {
    if (this.batchPeers.has(to)) return true;
    return this.connection.poolBatches && !this.poolBatchesRefused && addressKind(to) === "logical";
  }

  private sendAlone(
    to: string,
    corrId: string,
    payload: JsonValue,
    meta: Readonly<Record<string, MetaValue>> | undefined,
    json?: string,
  ): void {
    this.connection.send(
      {
        to,
        replyTo: this.connection.replyAddress,
        corrId,
        ...(meta !== undefined && Object.keys(meta).length > 0 ? { meta } : {}),
        frame: { type: "Data", codec: "json", payload },
      },
      undefined,
      json,
    );
  }

  /** one envelope for `messages`: a lone message as before, several as a batch */
  private emit(to: string, messages: ClearMessage[]): void {
    const first = messages[0]!;
    const single = messages.length === 1;
    try {
      if (single) {
        this.sendAlone(to, first.corrId, first.payload, first.more ? MORE_OFFER : OFFER, first.json);
        return;
      }
      const batch: BatchEntry[] = new Array(messages.length);
      const payloads: JsonValue[] = new Array(messages.length);
      // the list's text from the messages' own, when every one has it
      let text: string | undefined = "[";
      for (let i = 0; i < messages.length; i++) {
        const msg = messages[i]!;
        batch[i] = msg.more ? { corrId: msg.corrId, more: true } : { corrId: msg.corrId };
        payloads[i] = msg.payload;
        if (text !== undefined)
          text = msg.json === undefined ? undefined : `${text}${i === 0 ? "" : ","}${msg.json}`;
      }
      this.connection.send(
        {
          to,
          replyTo: this.connection.replyAddress,
          frame: { type: "Data", codec: "json", payload: payloads, batch },
        },
        undefined,
        text === undefined ? undefined : `${text}]`,
      );
    } catch (err) {
      // Too large as one envelope (the size was an estimate), or one message the protocol
      // refuses: halves, until each message stands or falls alone.
      if (!single && isProtocolError(err)) {
        const half = messages.length >> 1;
        this.emit(to, messages.slice(0, half));
        this.emit(to, messages.slice(half));
        return;
      }
      const failure = unsentError(
        err,
        () => JSON.stringify(first.payload),
        this.connection.maxFrameBytes,
        false,
      );
      this.log.warn({ messages: messages.length, code: failure.fameCode }, "clear message not sent");
      const code = failure.fameCode ?? "replica_unavailable";
      for (const msg of messages) {
        if (this.failCall(msg.corrId, code, failure.message)) continue;
        // an answer the protocol refused: its caller is told so, instead of waiting out its timeout
        if (!isProtocolError(err)) continue;
        const answer = isFrameTooLarge(err)
          ? tooLargeAnswer(msg.corrId, failure.message)
          : unsentAnswer(msg.corrId, failure.message, code);
        try {
          this.sendAlone(to, msg.corrId, answer, undefined);
        } catch {
          // not connected: the caller's timeout answers
        }
      }
    }
  }
}
