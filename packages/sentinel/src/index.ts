export * from "./affinity/index.js";
export {
  AttachAuthority,
  type AttachAuthorityOptions,
  type AttachDecision,
  type AttachVerifiers,
  type TicketGrant,
  type VerifiedChain,
} from "./attach-authority.js";
export {
  type ClusterRouteCounters,
  MAX_KEY_WAITERS,
  MAX_KEY_WAITERS_PER_NODE,
  MAX_KEY_WAITERS_PER_PRINCIPAL,
  MOVE_REBIND_GRACE_MS,
} from "./cluster/cluster-route.js";
export {
  CLUSTER_LINK_PATH,
  type DirectLinkCounters,
  type DirectLinksOptions,
  DirectSentinelLinks,
  LINK_TOKEN_SUBJECT_PREFIX,
  linkUrlOf,
  MAX_LINK_BUFFERED_BYTES,
} from "./cluster/direct-links.js";
export {
  type Attested,
  decodeForward,
  encodeForward,
  type ForwardHeader,
  type ForwardKind,
} from "./cluster/forward-frame.js";
export type { ClusterWiring } from "./cluster/sentinel-cluster.js";
export {
  BusSentinelLinks,
  SENTINEL_SUBJECT_PREFIX,
  type SentinelLinks,
  sentinelSubject,
} from "./cluster/sentinel-links.js";
export { type InflightEntry, InflightTracker } from "./inflight-tracker.js";
export * from "./limits/index.js";
export * from "./metrics/index.js";
export { type Link, type NodeKey, NodeSession } from "./node-session.js";
export {
  type AccessVerdict,
  type OperatorEndpoint,
  operatorAccess,
} from "./operator-access.js";
export {
  AUTHZ_CODES,
  type AuthorizeStage,
  type AuthzCode,
  FrameAuthorizer,
  type FrameAuthorizerDeps,
  ownsAddress,
  PermissiveAuthorizer,
} from "./pipeline/authorize-stage.js";
export { KEY_UPDATE_GAP_MS } from "./pipeline/control-frames.js";
export type { RouteKind, RouteRequest } from "./pipeline/route-request.js";
export { type AccessPolicy, OPEN_ACCESS } from "./policy/access-policy.js";
export {
  AFFINITY_KINDS,
  type AffinityKind,
  checkHealthReplyPath,
  DEFAULT_HEALTH_CHECK,
  DEFAULT_OUTLIER_POLICY,
  DEFAULT_POOL_POLICY,
  defaultPoolPolicy,
  type HealthCheckPolicy,
  MAX_POOL_POLICIES,
  type OutlierPolicy,
  POOL_MODES,
  type PoolMode,
  type PoolPolicy,
  parsePoolPolicies,
  parsePoolPolicy,
} from "./pool-policy.js";
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
export { SentinelPresence, type SentinelPresenceOptions } from "./sentinel-presence.js";
export {
  ATTACH_PATH,
  DRAIN_PATH,
  METRICS_PATH,
  type RunningSentinel,
  STATUS_PATH,
  startSentinelServer,
} from "./sentinel-server.js";
export { SessionDirectory } from "./session-directory.js";
export { type NewWork, SharedState, type StateRefusal } from "./shared-state.js";
export * from "./stickiness/index.js";
