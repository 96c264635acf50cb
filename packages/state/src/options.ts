import type { MemoryHub } from "./memory/memory-bucket.js";

/** Tuning of the shared state; every field has a default. */
export interface FabricStateOptions {
  /** the NATS connection's name (server monitoring shows it), e.g. `sentinel-a` */
  name?: string;
  /** how long a write may wait for NATS before it rejects with StateUnavailableError; default 1500 ms */
  timeoutMs?: number;
  /** how long a channel pin is kept (the bucket's max_age: the longest channel lifetime); default 24 h */
  pinMaxAgeMs?: number;
  /** how long a session placement is kept without being rewritten; default 24 h */
  sessionMaxAgeMs?: number;
  /** how long a spent ticket id is remembered (≥ the longest ticket lifetime + clock tolerance); default 10 min */
  ticketMaxAgeMs?: number;
  /** most entries cached per bucket; default 1 000 000 */
  maxCacheEntries?: number;
  /** memory profile: share one hub between several FabricStates (tests of a cluster without NATS) */
  hub?: MemoryHub;
}

export const DEFAULT_TIMEOUT_MS = 1_500;
export const DEFAULT_PIN_MAX_AGE_MS = 24 * 3600_000;
export const DEFAULT_SESSION_MAX_AGE_MS = 24 * 3600_000;
export const DEFAULT_TICKET_MAX_AGE_MS = 10 * 60_000;
export const DEFAULT_MAX_CACHE_ENTRIES = 1_000_000;
/** elections are rewritten every second while held; a forgotten pool's record goes after an hour */
export const ELECTION_MAX_AGE_MS = 3600_000;
