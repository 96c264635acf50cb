/**
 * Defaults of the sentinel's resource limits (each is a FAME_* setting, see
 * sentinel-config.ts and docs/security.md). Chosen so that one sentinel on a
 * small box stays responsive under abuse while normal fabrics never meet them.
 */
export const LIMIT_DEFAULTS = {
  /** FAME_MAX_CHANNELS_PER_CLIENT: channel pins plus opens awaiting an answer, per client sid */
  maxChannelsPerClient: 1024,
  /** FAME_MAX_EXCLUSIVE_SESSIONS_PER_CLIENT: sessions one client sid may hold in one exclusive pool */
  maxExclusiveSessionsPerClient: 4,
  /**
   * FAME_SESSION_PRINCIPAL_SHARE_PCT: the share of a session pool one principal (OAuth2 client)
   * may hold with all its processes: of an exclusive pool's replicas (leaving one free for others
   * when there are two or more), and of any pool's `max_sessions`
   */
  sessionPrincipalSharePct: 50,
  /** FAME_ATTACH_RATE_PER_MIN: WebSocket upgrades per remote IP (IPv6: per /64) per minute */
  attachRatePerMin: 120,
  /** FAME_MAX_PENDING_ATTACH: connections that have not attached yet, all remotes together */
  maxPendingAttach: 256,
  /** FAME_MAX_PENDING_ATTACH_PER_IP: the same, from one remote IP (IPv6: per /64) */
  maxPendingAttachPerIp: 32,
  /** FAME_IDLE_TIMEOUT_MS: an attached connection silent this long is closed */
  idleTimeoutMs: 60_000,
  /** remote IPs the attach rate limiter tracks at most (least recently seen dropped first) */
  attachRateTrackedIps: 10_000,
  /**
   * FAME_MAX_FRAMES_PER_SEC: frames one connection may send per second, sustained. The bench's
   * busiest connection sends ~80k frames/s at most; this leaves it well clear.
   */
  maxFramesPerSec: 200_000,
  /** FAME_FRAME_BURST: frames one connection may send at once above its rate */
  frameBurst: 20_000,
  /** FAME_MAX_SESSIONS: attached sessions, all nodes together; attach beyond it is refused */
  maxSessions: 10_000,
  /**
   * FAME_MAX_BINDINGS_PER_PRINCIPAL: addresses the nodes of one credential hold together (each
   * node's binding of an address counts). Beyond it a bind is refused: one credential must not
   * bury the operator's views (status, dashboard, /metrics) under pools of its making.
   */
  maxBindingsPerPrincipal: 4096,
} as const;
