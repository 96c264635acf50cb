import type { BucketSpec } from "./bucket.js";
import {
  DEFAULT_MAX_CACHE_ENTRIES,
  DEFAULT_PIN_MAX_AGE_MS,
  DEFAULT_SESSION_MAX_AGE_MS,
  DEFAULT_TICKET_MAX_AGE_MS,
  ELECTION_MAX_AGE_MS,
  type FabricStateOptions,
} from "./options.js";
import { parseElection } from "./stores/election-store.js";
import { DIRECTORY_MAX_AGE_MS, parseNodeRecord } from "./stores/node-directory.js";
import { parsePin } from "./stores/pin-store.js";
import { parseSentinelRecord, REGISTRY_MAX_AGE_MS } from "./stores/sentinel-registry.js";
import { parsePlacement } from "./stores/session-store.js";
import { parseSpentTicket, type SpentTicket } from "./stores/ticket-ledger.js";
import type { ElectionRecord, NodeRecord, PinRecord, SentinelRecord, SessionPlacement } from "./types.js";

export interface BucketSpecs {
  sentinels: BucketSpec<SentinelRecord>;
  nodes: BucketSpec<NodeRecord>;
  pins: BucketSpec<PinRecord>;
  tickets: BucketSpec<SpentTicket>;
  elections: BucketSpec<ElectionRecord>;
  sessions: BucketSpec<SessionPlacement>;
}

/** The six buckets, their lifetimes and bounds. */
export function bucketSpecs(opts: FabricStateOptions): BucketSpecs {
  const maxEntries = opts.maxCacheEntries ?? DEFAULT_MAX_CACHE_ENTRIES;
  return {
    sentinels: {
      name: "sentinels",
      maxAgeMs: REGISTRY_MAX_AGE_MS,
      maxValueBytes: 4096,
      cached: true,
      maxEntries: Math.min(maxEntries, 10_000),
      keyParts: 1,
      parse: parseSentinelRecord,
    },
    nodes: {
      name: "nodes",
      maxAgeMs: DIRECTORY_MAX_AGE_MS,
      maxValueBytes: 128 * 1024,
      cached: true,
      maxEntries,
      keyParts: 1,
      parse: parseNodeRecord,
    },
    pins: {
      name: "pins",
      maxAgeMs: opts.pinMaxAgeMs ?? DEFAULT_PIN_MAX_AGE_MS,
      maxValueBytes: 1024,
      cached: true,
      maxEntries,
      keyParts: 2,
      parse: parsePin,
    },
    tickets: {
      name: "tickets",
      maxAgeMs: opts.ticketMaxAgeMs ?? DEFAULT_TICKET_MAX_AGE_MS,
      maxValueBytes: 256,
      cached: false,
      maxEntries,
      keyParts: 1,
      parse: parseSpentTicket,
    },
    elections: {
      name: "elections",
      maxAgeMs: ELECTION_MAX_AGE_MS,
      maxValueBytes: 1024,
      cached: true,
      maxEntries,
      keyParts: 1,
      parse: parseElection,
    },
    sessions: {
      name: "sessions",
      maxAgeMs: opts.sessionMaxAgeMs ?? DEFAULT_SESSION_MAX_AGE_MS,
      maxValueBytes: 4096,
      cached: true,
      maxEntries,
      keyParts: 1,
      parse: parsePlacement,
    },
  };
}
