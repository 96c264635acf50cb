export { ActiveElection, type Election } from "./active-election.js";
export { ClusterSessionCounts } from "./cluster-session-counts.js";
export {
  HealthChecker,
  type HealthCheckerDeps,
  type MemberHealthView,
  type ProbeMember,
} from "./health-checker.js";
export { type Ejection, OutlierEjections } from "./outlier-ejections.js";
export {
  type Placement,
  PoolRouter,
  type PoolRouterCluster,
  type PoolRouterDeps,
  principalShare,
  type Refusal,
  type RoutedNode,
  SESSION_NOT_OWNED,
  type SessionLimits,
  TOO_MANY_CLIENT_SESSIONS,
  TOO_MANY_PRINCIPAL_SESSIONS,
} from "./pool-router.js";
export type { PoolCounters, PoolDistribution, ReplicaDistribution } from "./pool-stats.js";
export {
  isSessionMetaError,
  readSessionMeta,
  SESSION_END_META,
  SESSION_ID_META,
  type SessionMeta,
  type SessionMetaError,
} from "./session-meta.js";
export { placeExclusiveSession, placeSession, sessionCap } from "./session-placement.js";
export {
  principalOf,
  type SessionEntry,
  SessionTable,
  type SessionTableCounts,
  type SessionTableOptions,
} from "./session-table.js";
export { SharedElection, type SharedElectionDeps } from "./shared-election.js";
export { SharedSessions, sessionKey } from "./shared-sessions.js";
export { MANY_UNANSWERED, type ReplicaCalls, StallWatch, type WatchedCall } from "./stall-watch.js";
