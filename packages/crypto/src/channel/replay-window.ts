import { CryptoError } from "../errors.js";

export const DEFAULT_REPLAY_WINDOW = 1024;

export type ReplayVerdict =
  /** Never seen and inside (or ahead of) the window: may be accepted. */
  | "fresh"
  /** Already accepted. */
  | "duplicate"
  /** At least `size` below the highest accepted sequence number. */
  | "too_old"
  /** Not an integer in 1..2^53-1. */
  | "invalid";

const WORD_BITS = 32;

/**
 * Sliding anti-replay window over sequence numbers 1..2^53-1 (RFC 6479 style).
 *
 * Accepts anything above the highest accepted number, and anything within the
 * `size` numbers ending at it (highest - size + 1 .. highest) that was not seen.
 * Bits live in a ring of 32-bit words indexed by seq / 32; moving the top clears
 * only the words it passes, so each check or mark is O(1) amortized and the
 * memory is fixed. One spare word lets the window straddle word boundaries
 * while still covering exactly `size` numbers.
 */
export class ReplayWindow {
  readonly size: number;
  readonly #words: Uint32Array;
  #highest = 0;

  constructor(size: number = DEFAULT_REPLAY_WINDOW) {
    if (!Number.isInteger(size) || size < 1 || size > 1 << 24) {
      throw new CryptoError("bad_input", "replay window size must be an integer in 1..2^24");
    }
    this.size = size;
    this.#words = new Uint32Array(Math.ceil(size / WORD_BITS) + 1);
  }

  /** Highest sequence number accepted so far; 0 before the first. */
  get highest(): number {
    return this.#highest;
  }

  check(seq: number): ReplayVerdict {
    if (!Number.isSafeInteger(seq) || seq < 1) return "invalid";
    if (seq > this.#highest) return "fresh";
    if (seq <= this.#highest - this.size) return "too_old";
    return this.#isSet(seq) ? "duplicate" : "fresh";
  }

  /** Records `seq` as accepted. Throws `replay` unless `check(seq)` is "fresh". */
  mark(seq: number): void {
    const verdict = this.check(seq);
    if (verdict !== "fresh") {
      throw new CryptoError(
        verdict === "invalid" ? "bad_input" : "replay",
        `sequence number ${seq} rejected: ${verdict}`,
      );
    }
    if (seq > this.#highest) this.#advanceTo(seq);
    const word = this.#wordIndex(seq);
    this.#words[word] = this.#words[word]! | (1 << (seq % WORD_BITS));
  }

  #wordIndex(seq: number): number {
    // Division, not >>, because sequence numbers exceed 32 bits.
    return Math.floor(seq / WORD_BITS) % this.#words.length;
  }

  #isSet(seq: number): boolean {
    return (this.#words[this.#wordIndex(seq)]! & (1 << (seq % WORD_BITS))) !== 0;
  }

  /** Clears the ring words between the old top word (exclusive) and the new one. */
  #advanceTo(seq: number): void {
    const oldTop = Math.floor(this.#highest / WORD_BITS);
    const newTop = Math.floor(seq / WORD_BITS);
    const passed = newTop - oldTop;
    if (passed >= this.#words.length) {
      this.#words.fill(0);
    } else {
      for (let word = oldTop + 1; word <= newTop; word++) this.#words[word % this.#words.length] = 0;
    }
    this.#highest = seq;
  }
}
