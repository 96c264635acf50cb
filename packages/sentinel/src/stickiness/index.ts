export {
  AFTLoadBalancerStickinessManager,
  MAX_PIN_ID_LENGTH,
  type PinRefusal,
  type PinResult,
  type ReplicaDirectory,
  type RouteDecision,
  type RouteInput,
  type SecureAcceptInfo,
  type StatelessRouteInput,
  type StickinessDeps,
  type StickinessMetrics,
} from "./aft-stickiness-manager.js";
export {
  DEFAULT_STICKINESS_CONFIG,
  parseStickinessConfig,
  SECURITY_LEVELS,
  type SecurityLevel,
  STICKINESS_MANAGER_TYPE,
  type StickinessConfig,
  StickinessConfigError,
} from "./config.js";
export { DEFAULT_KEY_CACHE_SIZE, ReplicaKeyCache } from "./ed25519-keys.js";
export type { PinnedDecision, Trust } from "./pin-table.js";
