export {
  AttachAuthority,
  type AttachAuthorityOptions,
  type AttachDecision,
  type AttachVerifiers,
  type TicketGrant,
  type VerifiedChain,
} from "./attach-authority.js";
export { type InflightEntry, InflightTracker } from "./inflight-tracker.js";
export { type Link, type NodeKey, NodeSession } from "./node-session.js";
export * from "./routing/index.js";
export {
  CLOSE,
  Sentinel,
  type SentinelCounters,
  type SentinelDeps,
  type SentinelSettings,
} from "./sentinel.js";
export {
  ADMISSION_PROFILES,
  type AdmissionProfile,
  LB_STRATEGIES,
  type LbStrategy,
  SECURITY_PROFILES,
  type SecurityProfile,
  type SentinelConfig,
  sentinelConfigFromEnv,
} from "./sentinel-config.js";
export { ATTACH_PATH, type RunningSentinel, STATUS_PATH, startSentinelServer } from "./sentinel-server.js";
export * from "./stickiness/index.js";
