/** Bounds applied to every decoded envelope. All sizes are upper bounds, inclusive. */
export interface Limits {
  /** UTF-8 bytes of the whole JSON text. */
  maxFrameBytes: number;
  /** Nesting of arrays/objects, the envelope object itself being depth 1. */
  maxDepth: number;
  /** UTF-16 code units of any string, except Data.payload/Data.ct (bounded by maxFrameBytes). */
  maxStringLength: number;
  /** UTF-16 code units of NodeAttach.attachTicket and of `aft` tokens. */
  maxTicketLength: number;
  /** Entries of any Jwk list. */
  maxKeys: number;
  /** Entries of NodeAttach.logicals. */
  maxLogicals: number;
  /** Entries of NodeAttach.capabilities. */
  maxCapabilities: number;
  /** Entries of envelope `meta`. */
  maxMetaEntries: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxFrameBytes: 1024 * 1024,
  maxDepth: 32,
  maxStringLength: 64 * 1024,
  maxTicketLength: 8 * 1024,
  maxKeys: 16,
  maxLogicals: 64,
  maxCapabilities: 64,
  maxMetaEntries: 32,
});

/** limits objects this module produced (already checked and complete) */
const resolved = new WeakSet<object>([DEFAULT_LIMITS]);

/** Validators recurse into payloads, so depth must stay far below the JS stack limit. */
export const MAX_CONFIGURABLE_DEPTH = 512;

/**
 * Merge overrides into the defaults. Limits come from local configuration, not the network,
 * so a bad value is a programming error and raises RangeError rather than ProtocolError.
 */
export function resolveLimits(overrides?: Partial<Limits>): Readonly<Limits> {
  if (overrides === undefined) return DEFAULT_LIMITS;
  // Hot paths resolve once and pass the result on every decode: recognise it.
  if (resolved.has(overrides)) return overrides as Readonly<Limits>;
  const merged: Limits = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof Limits)[]) {
    const value = overrides[key];
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`limit ${key} must be a positive integer`);
    }
    merged[key] = value;
  }
  if (merged.maxDepth > MAX_CONFIGURABLE_DEPTH) {
    throw new RangeError(`limit maxDepth must be at most ${MAX_CONFIGURABLE_DEPTH}`);
  }
  const frozen = Object.freeze(merged);
  resolved.add(frozen);
  return frozen;
}
