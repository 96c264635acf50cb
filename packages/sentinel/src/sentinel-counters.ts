export interface SentinelCounters {
  attached: number;
  attachRefused: number;
  detached: number;
  routed: number;
  refused: number;
  badFrames: number;
  replicaUnavailableNacks: number;
  /** attached connections closed for sending nothing within the idle timeout */
  idleClosed: number;
  /** SecureOpens refused with too_many_channels */
  channelQuotaRefused: number;
  /** frames refused by the authorize stage (per code: the authorizer's `refusals`) */
  authzRefused: number;
  /** frames dropped by the per-connection rate limit (FAME_MAX_FRAMES_PER_SEC) */
  rateLimited: number;
  /** connections closed for flooding far above their frame rate */
  rateLimitClosed: number;
  /** attaches refused because FAME_MAX_SESSIONS sessions were attached */
  sessionCapRefused: number;
  /** AddressBinds refused (access policy, registry conflicts and grants) */
  bindRefused: number;
  /** signed envelopes refused with stale_envelope (ts outside FAME_MAX_CLOCK_SKEW_MS) */
  staleRefused: number;
  /** signed envelopes refused with replay (id already seen from that sender) */
  replayRefused: number;
  /** frames dropped for a node that had not read its last 16 MiB (a slow or stopped reader) */
  slowReaderDropped: number;
}

export function newSentinelCounters(): SentinelCounters {
  return {
    attached: 0,
    attachRefused: 0,
    detached: 0,
    routed: 0,
    refused: 0,
    badFrames: 0,
    replicaUnavailableNacks: 0,
    idleClosed: 0,
    channelQuotaRefused: 0,
    authzRefused: 0,
    rateLimited: 0,
    rateLimitClosed: 0,
    sessionCapRefused: 0,
    bindRefused: 0,
    staleRefused: 0,
    replayRefused: 0,
    slowReaderDropped: 0,
  };
}
