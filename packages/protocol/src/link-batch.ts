/**
 * Link batches: several envelopes written in one event-loop turn on one link, sent as one text
 * WebSocket message `[env,env,...]` (a JSON array of envelope objects, no whitespace when we
 * write it). A lone envelope keeps its own form (`{...}`): the first byte tells them apart.
 *
 * Decoding is in two steps so that a batch can never do what a lone envelope could not:
 * `splitLinkBatch` checks the message as a whole (size before anything else, then its shape,
 * entry count and nesting, then that every entry is JSON) and throws for a malformed batch,
 * which is refused like any bad frame; each entry then goes through `checkLinkBatchEntry` (the
 * strict checks of a lone envelope), one at a time, so a bad entry is refused alone.
 */
import type { Envelope } from "./envelope.js";
import { type Limits, resolveLimits } from "./limits.js";
import { ProtocolError } from "./protocol-error.js";
import { checkEnvelope, newCtx } from "./validate.js";

/** The most entries a receiver takes in one batch (senders choose fewer: LINK_BATCH_SEND_ENTRIES). */
export const MAX_LINK_BATCH_ENTRIES = 64;
/**
 * What a sender puts in one batch at most: the throughput of a 64-in-flight bench stopped
 * rising past 32 entries (docs/performance.md "Link batching").
 */
export const LINK_BATCH_SEND_ENTRIES = 32;
/**
 * Bytes of one batch a sender writes at most: every node accepts this much (a node with a
 * smaller frame limit does not offer batches), and larger envelopes gain nothing from company.
 */
export const LINK_BATCH_SEND_BYTES = 64 * 1024;
/** NodeAttach capability: this node accepts link batches from its sentinel */
export const LINK_BATCH_CAPABILITY = "link-batch";

const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;

const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

/** True when a message is a batch rather than one envelope: its first byte is `[`. */
export function isLinkBatch(input: string | Uint8Array): boolean {
  return typeof input === "string" ? input.charCodeAt(0) === OPEN_BRACKET : input[0] === OPEN_BRACKET;
}

/** A batch split into its entries: each entry's exact bytes (forwarded as they came) and its JSON value. */
export interface SplitBatch {
  raws: Uint8Array[];
  values: unknown[];
}

function malformed(reason: string): ProtocolError {
  return new ProtocolError("bad_envelope", "", `batch ${reason}`);
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function skipSpace(b: Uint8Array, i: number): number {
  while (i < b.length && isSpace(b[i]!)) i++;
  return i;
}

/** index of the quote closing a string whose content starts at `from`, or -1 */
function closingQuote(b: Uint8Array, from: number): number {
  let q = b.indexOf(QUOTE, from);
  while (q >= 0) {
    let backslashes = 0;
    for (let j = q - 1; j >= from && b[j] === BACKSLASH; j--) backslashes++;
    if (backslashes % 2 === 0) return q;
    q = b.indexOf(QUOTE, q + 1);
  }
  return -1;
}

/**
 * End (exclusive) of the object starting at `start`, refusing nesting deeper than `maxDepth`
 * (the envelope object is depth 1). Only brackets and strings are scanned: JSON.parse of the
 * entry checks the rest. UTF-8 continuation bytes are never below 0x80, so a byte scan is safe.
 */
function objectEnd(b: Uint8Array, start: number, maxDepth: number): number {
  let depth = 0;
  for (let i = start; i < b.length; i++) {
    const c = b[i]!;
    if (c === QUOTE) {
      i = closingQuote(b, i + 1);
      if (i < 0) throw malformed("has an unterminated string");
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) throw malformed(`nests deeper than ${maxDepth}`);
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      if (--depth === 0) return i + 1;
      if (depth < 0) throw malformed("is not balanced");
    }
  }
  throw malformed("is not terminated");
}

/**
 * Splits a batch message into its entries. Throws ProtocolError for a batch malformed as a
 * whole: larger than maxFrameBytes (checked first), not `[` objects separated by commas `]`,
 * empty, more than `maxEntries` entries, an entry that is not an object (a nested batch), an
 * entry nested deeper than maxDepth, not UTF-8, or an entry that is not JSON.
 */
export function splitLinkBatch(
  input: string | Uint8Array,
  limits?: Partial<Limits>,
  maxEntries = MAX_LINK_BATCH_ENTRIES,
): SplitBatch {
  const lim = resolveLimits(limits);
  if (typeof input === "string") {
    // strings arrive from in-memory links (tests); the size check still comes before any work
    if (input.length > lim.maxFrameBytes) throw tooLarge(lim.maxFrameBytes);
    input = utf8Encoder.encode(input);
  }
  if (input.byteLength > lim.maxFrameBytes) throw tooLarge(lim.maxFrameBytes);
  const b = input;
  if (b[0] !== OPEN_BRACKET) throw malformed("does not start with [");
  const raws: Uint8Array[] = [];
  let i = skipSpace(b, 1);
  for (;;) {
    if (b[i] !== OPEN_BRACE)
      throw malformed(i < b.length ? "entry is not an envelope object" : "is not terminated");
    if (raws.length === maxEntries) throw malformed(`has more than ${maxEntries} entries`);
    const end = objectEnd(b, i, lim.maxDepth);
    raws.push(b.subarray(i, end));
    i = skipSpace(b, end);
    const c = b[i];
    if (c === COMMA) {
      i = skipSpace(b, i + 1);
      continue;
    }
    if (c === undefined) throw malformed("is not terminated");
    if (c !== CLOSE_BRACKET) throw malformed("entries are not separated by commas");
    if (skipSpace(b, i + 1) !== b.length) throw malformed("has text after its end");
    break;
  }
  const values: unknown[] = new Array(raws.length);
  for (let k = 0; k < raws.length; k++) {
    let text: string;
    try {
      text = utf8Decoder.decode(raws[k]);
    } catch {
      throw malformed("is not valid UTF-8");
    }
    try {
      values[k] = JSON.parse(text);
    } catch {
      throw malformed("is not valid JSON");
    }
  }
  return { raws, values };
}

function tooLarge(max: number): ProtocolError {
  return new ProtocolError("frame_too_large", "", `frame larger than ${max} bytes`);
}

/** One entry of a split batch, through the same strict checks as a lone envelope; throws ProtocolError. */
export function checkLinkBatchEntry(value: unknown, limits?: Partial<Limits>): Envelope {
  return checkEnvelope(value, newCtx(resolveLimits(limits)));
}

/** The batch message for already encoded envelopes (each one `{...}`), at least two of them. */
export function encodeLinkBatch(texts: readonly string[]): string {
  return `[${texts.join(",")}]`;
}
