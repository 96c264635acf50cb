import { MAX_BATCH_ENTRIES } from "@fame/protocol";
import type { SecureChannel } from "./secure-channel.js";

/** One application message waiting to be sealed: its conversation and its JSON text. */
export interface OutgoingMessage {
  readonly corrId: string;
  readonly json: string;
  /** more messages of this conversation follow (a stream item) */
  readonly more: boolean;
}

export interface CoalescerLimits {
  /** messages per record, 1..MAX_BATCH_ENTRIES */
  maxMessages: number;
  /**
   * UTF-16 code units of JSON per record. A record's ciphertext travels as base64url inside
   * one frame, so this keeps a full record (at most 3 bytes per unit, 4/3 for base64) well
   * inside the default 1 MiB frame limit. A single larger message still goes, alone.
   */
  maxJsonUnits: number;
}

export const DEFAULT_COALESCER_LIMITS: Readonly<CoalescerLimits> = Object.freeze({
  maxMessages: 32,
  maxJsonUnits: 128 * 1024,
});

/** Seals and sends one record carrying `messages` (one, or a batch) on `channel` to `to`. */
export type RecordEmitter = (channel: SecureChannel, to: string, messages: OutgoingMessage[]) => void;

interface Queue<M> {
  to: string;
  messages: M[];
}

/**
 * Coalesces the messages a node sends on one key (a channel, or a destination in the clear)
 * within one turn of the event loop into as few envelopes as the limits allow, the way TLS
 * packs a burst of writes into few records: one envelope (one AEAD seal or one signature) and
 * one sentinel hop carry many calls. The queue is flushed from process.nextTick, i.e. as soon
 * as the code that produced the burst (and the promise continuations it set off) has run, so
 * nothing waits for a timer and a lone message is not delayed. Order per key is kept.
 */
export class TurnCoalescer<K, M> {
  private readonly queues = new Map<K, Queue<M>>();
  private scheduled = false;
  private readonly limits: Readonly<CoalescerLimits>;

  constructor(
    private readonly emit: (key: K, to: string, messages: M[]) => void,
    /** a message's size in UTF-16 code units of JSON, counted against maxJsonUnits */
    private readonly units: (message: M) => number,
    limits: Partial<CoalescerLimits> = {},
    /** called after a full record was sent mid-turn: the transport should write it out now */
    private readonly onFullRecord?: () => void,
  ) {
    const merged = { ...DEFAULT_COALESCER_LIMITS, ...limits };
    if (
      !Number.isInteger(merged.maxMessages) ||
      merged.maxMessages < 1 ||
      merged.maxMessages > MAX_BATCH_ENTRIES
    )
      throw new RangeError(`maxMessages must be an integer in 1..${MAX_BATCH_ENTRIES}`);
    if (!Number.isInteger(merged.maxJsonUnits) || merged.maxJsonUnits < 1)
      throw new RangeError("maxJsonUnits must be a positive integer");
    this.limits = merged;
  }

  /** messages waiting in all queues */
  get pending(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.messages.length;
    return n;
  }

  add(channel: K, to: string, message: M): void {
    let queue = this.queues.get(channel);
    if (queue !== undefined && queue.to !== to) {
      // a record has one destination: what is queued for the other one goes first
      this.flush(channel);
      queue = undefined;
    }
    if (queue === undefined) {
      queue = { to, messages: [] };
      this.queues.set(channel, queue);
    }
    queue.messages.push(message);
    if (queue.messages.length >= this.limits.maxMessages) {
      // A full record leaves now rather than at the end of the turn, so the next process
      // on the path starts on it while this one is still producing: a pipeline, not a convoy.
      this.flush(channel);
      this.onFullRecord?.();
      return;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(() => this.flushAll());
    }
  }

  /** Sends what is queued for `channel` now (before a message that must not overtake it). */
  flush(channel: K): void {
    const queue = this.queues.get(channel);
    if (queue === undefined) return;
    this.queues.delete(channel);
    this.send(channel, queue);
  }

  flushAll(): void {
    this.scheduled = false;
    // bounded: each pass empties the map, and emit() cannot add to it synchronously
    for (const [channel, queue] of this.queues) {
      this.queues.delete(channel);
      this.send(channel, queue);
    }
  }

  /** Drops everything queued (the node is closing); returns the dropped messages. */
  clear(): M[] {
    const dropped: M[] = [];
    for (const q of this.queues.values()) dropped.push(...q.messages);
    this.queues.clear();
    return dropped;
  }

  private send(channel: K, queue: Queue<M>): void {
    const { messages, to } = queue;
    const { maxMessages, maxJsonUnits } = this.limits;
    let start = 0;
    while (start < messages.length) {
      let end = start + 1;
      let units = this.units(messages[start]!);
      while (
        end < messages.length &&
        end - start < maxMessages &&
        units + this.units(messages[end]!) <= maxJsonUnits
      ) {
        units += this.units(messages[end]!);
        end++;
      }
      this.emit(channel, to, start === 0 && end === messages.length ? messages : messages.slice(start, end));
      start = end;
    }
  }
}

const jsonUnits = (m: OutgoingMessage): number => m.json.length;

/** The channel coalescer: what one turn sends on a channel leaves as few sealed records. */
export class RecordCoalescer extends TurnCoalescer<SecureChannel, OutgoingMessage> {
  constructor(emit: RecordEmitter, limits: Partial<CoalescerLimits> = {}, onFullRecord?: () => void) {
    super(emit, jsonUnits, limits, onFullRecord);
  }
}
