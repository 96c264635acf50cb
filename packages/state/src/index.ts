export { isStateUnavailable, StateUnavailableError } from "./errors.js";
export { decodeKey, decodeKeyPart, encodeKey, encodeKeyPart } from "./key-codec.js";
export { MemoryHub } from "./memory/memory-bucket.js";
export { openMemoryFabricState } from "./memory/open-memory.js";
export { openFabricState } from "./open.js";
export type { FabricStateOptions } from "./options.js";
export { DEFAULT_LEASE_MS } from "./stores/election-store.js";
export { DIRECTORY_MAX_AGE_MS, DIRECTORY_REFRESH_MS } from "./stores/node-directory.js";
export { REGISTRY_MAX_AGE_MS, REGISTRY_REFRESH_MS } from "./stores/sentinel-registry.js";
export type {
  ElectionClaim,
  ElectionRecord,
  ElectionStore,
  FabricState,
  NodeDirectory,
  NodeKeyJwk,
  NodeRecord,
  PinRecord,
  PinStore,
  SentinelAdvert,
  SentinelRecord,
  SentinelRegistry,
  SessionPlacement,
  SessionStore,
  StateBus,
  StateProfile,
  StateStatus,
  TicketLedger,
  Unsubscribe,
} from "./types.js";
