import {
  type AdmissionProfile,
  ConfigError,
  clusterAudience,
  envWithYaml,
  type KnownKeys,
  loadYamlConfig,
  pick,
  readBool,
  readEnum,
  readInt,
  readOptionalString,
  readPort,
  readProfiles,
  readSettingFile,
  readStorageSettings,
  readString,
  readUrl,
  refuseUnknownKeys,
  type SecurityProfile,
  type StorageSettings,
} from "@fame/config";
import { type ConnectionLimits, connectionLimitsFromEnv } from "@fame/http-service/connection-limits";
import { type ServerTls, serverTlsFromEnv, trustBundleFromEnv } from "@fame/http-service/tls";
import type { AccessPolicyDocument } from "@fame/identity";
import { DEFAULT_MAX_CLOCK_SKEW_MS } from "@fame/protocol";
import { checkConfigConflicts } from "./config-conflicts.js";
import { LIMIT_DEFAULTS } from "./limits/defaults.js";
import { accessPolicyFromConfig } from "./policy/load-policy.js";
import { checkHealthReplyPath, type PoolPolicy, parsePoolPolicies } from "./pool-policy.js";
import { LOAD_BALANCER_NAMES, type LoadBalancerName } from "./routing/load-balancer.js";

export {
  ADMISSION_PROFILES,
  type AdmissionProfile,
  SECURITY_PROFILES,
  type SecurityProfile,
} from "@fame/config";
/** the strategies FAME_LOAD_BALANCING may name: exactly those the routing core implements */
export const LB_STRATEGIES = LOAD_BALANCER_NAMES;
/**
 * Requests in flight of all nodes of one principal together: a tenth of the in-flight table
 * (InflightTracker's 1,000,000), ~100 connections' worth at FAME_MAX_INFLIGHT's default.
 */
export const DEFAULT_MAX_INFLIGHT_PER_PRINCIPAL = 100_000;
export type LbStrategy = LoadBalancerName;

export interface SentinelConfig {
  sentinelId: string;
  host: string;
  port: number;
  /** null only with FAME_DEV_INSECURE_HTTP=1 */
  tls: ServerTls | null;
  /** deadlines and caps before a connection has made its request (FAME_TLS_HANDSHAKE_TIMEOUT_MS, FAME_HTTP_*_TIMEOUT_MS, FAME_MAX_HANDSHAKES*) */
  connectionLimits?: ConnectionLimits;
  securityProfile: SecurityProfile;
  admissionProfile: AdmissionProfile;
  /** welcome profile: where the attach-ticket signing keys are */
  welcomeJwksUrl: string | undefined;
  welcomeJwksFile: string | undefined;
  welcomeIssuer: string;
  ticketAudience: string;
  /** direct profile: the shared static attach token */
  directToken: string | undefined;
  /** PEM roots that node certificates must chain to (strict-overlay) */
  trustBundlePem: string | undefined;
  trustDomain: string;
  loadBalancing: LbStrategy;
  /** raw `stickiness` block from YAML (parsed by the stickiness manager), or undefined */
  stickiness: unknown;
  /** per-pool policies (`node.pools`); pools without an entry keep the sentinel-wide defaults */
  pools: PoolPolicy[];
  heartbeatMs: number;
  heartbeatMissLimit: number;
  attachTimeoutMs: number;
  maxFrameBytes: number;
  maxInflightPerConnection: number;
  /** requests in flight of all nodes of one credential together (FAME_MAX_INFLIGHT_PER_PRINCIPAL) */
  maxInflightPerPrincipal: number;
  /** link batches taken from and sent to nodes that offer them (FAME_LINK_BATCH, default on) */
  linkBatch: boolean;
  /**
   * In a cluster: frames to other sentinels on direct TLS links (NATS while a link is down);
   * false: over NATS subjects only (FAME_CLUSTER_DIRECT_LINKS, default on)
   */
  clusterDirectLinks: boolean;
  /** channel pins plus pending channel opens per client sid (FAME_MAX_CHANNELS_PER_CLIENT) */
  maxChannelsPerClient: number;
  /** sessions one client may hold in one exclusive pool (FAME_MAX_EXCLUSIVE_SESSIONS_PER_CLIENT) */
  maxExclusiveSessionsPerClient: number;
  /** a principal's share of a session pool, all its processes together (FAME_SESSION_PRINCIPAL_SHARE_PCT) */
  sessionPrincipalSharePct: number;
  /** WebSocket upgrades per remote IP per minute, also the burst (FAME_ATTACH_RATE_PER_MIN) */
  attachRatePerMin: number;
  /** connections open but not yet attached, all remotes together (FAME_MAX_PENDING_ATTACH) */
  maxPendingAttach: number;
  /** … and from one remote IP, IPv6 per /64 (FAME_MAX_PENDING_ATTACH_PER_IP) */
  maxPendingAttachPerIp: number;
  /** an attached connection that sends no frame for this long is closed (FAME_IDLE_TIMEOUT_MS) */
  idleTimeoutMs: number;
  /** frames per second one connection may send, sustained (FAME_MAX_FRAMES_PER_SEC) */
  maxFramesPerSec: number;
  /** frames one connection may send at once above that rate (FAME_FRAME_BURST) */
  frameBurst: number;
  /** attached sessions at most, all nodes together (FAME_MAX_SESSIONS) */
  maxSessions: number;
  /** addresses the nodes of one principal hold together (FAME_MAX_BINDINGS_PER_PRINCIPAL) */
  maxBindingsPerPrincipal: number;
  /** signed envelopes whose ts is further from our clock are refused (FAME_MAX_CLOCK_SKEW_MS) */
  maxClockSkewMs: number;
  /**
   * bearer token of the operator endpoints (FAME_SENTINEL_ADMIN_TOKEN, or the file named by
   * FAME_SENTINEL_ADMIN_TOKEN_FILE): drain always needs it; status and metrics unless the
   * profile is open. Unset, those endpoints refuse everyone.
   */
  adminToken: string | undefined;
  /** who may serve and call what (FAME_POLICY_FILE or a `policy:` block); undefined: open */
  accessPolicy: AccessPolicyDocument | undefined;
  /** where pins, sessions, elections and spent tickets live: memory, or NATS for a cluster */
  storage: StorageSettings;
  /** the attach URL nodes use for this sentinel (FAME_PUBLIC_URL / `node.public_url`); required in a cluster */
  publicUrl: string | undefined;
}

/**
 * Reads the sentinel's configuration: YAML (FAME_CONFIG) shaped like the seed's
 * `node:` block, with FAME_* environment variables taking precedence. Every
 * refusal names the setting to fix.
 */
export function sentinelConfigFromEnv(processEnv: NodeJS.ProcessEnv = process.env): SentinelConfig {
  const { tree } = loadYamlConfig(processEnv);
  refuseUnknownKeys(tree, SENTINEL_YAML_KEYS);
  // FAME_* settings may also come from the YAML's `env:` block; real variables win.
  const env = envWithYaml(processEnv);
  const node = (pick(tree, "node") ?? {}) as Record<string, unknown>;
  if (node["type"] !== undefined && node["type"] !== "Sentinel") {
    throw new ConfigError(
      "node.type",
      `must be Sentinel for the sentinel process, got "${String(node["type"])}"`,
    );
  }
  const listeners = Array.isArray(node["listeners"]) ? (node["listeners"] as Record<string, unknown>[]) : [];
  const ws = listeners.find((l) => l && l["type"] === "WebSocketListener");
  const yamlPort = ws?.["port"];

  const { securityProfile, admissionProfile } = readProfiles(env, tree);
  const certsDir = env["FAME_CERTS_DIR"] || "certs";
  const trustBundlePem = trustBundleFromEnv({
    FAME_CA_CERTS:
      env["FAME_CA_CERTS"] || (securityProfile === "strict-overlay" ? `${certsDir}/trust-bundle.pem` : ""),
  });
  if (securityProfile === "strict-overlay" && !trustBundlePem) {
    throw new ConfigError(
      "FAME_CA_CERTS",
      "strict-overlay needs the trust bundle that node certificates chain to",
    );
  }
  const directToken = readOptionalString(env["FAME_ADMISSION_TOKEN"], "FAME_ADMISSION_TOKEN");
  if (admissionProfile === "direct" && !directToken) {
    throw new ConfigError("FAME_ADMISSION_TOKEN", "the direct admission profile needs a static attach token");
  }
  const welcomeJwksFile = readOptionalString(env["FAME_WELCOME_JWKS_FILE"], "FAME_WELCOME_JWKS_FILE");
  // Whoever serves these keys decides which attach tickets are valid: TLS unless the dev flag says otherwise.
  const welcomeJwksUrl = welcomeJwksFile
    ? undefined
    : readUrl(env["FAME_WELCOME_JWKS_URL"], "FAME_WELCOME_JWKS_URL", {
        fallback: "https://localhost:8444/.well-known/jwks.json",
        protocols: readBool(env["FAME_DEV_INSECURE_HTTP"], "FAME_DEV_INSECURE_HTTP", false)
          ? ["https:", "http:"]
          : ["https:"],
      }).href;

  const storage = readStorageSettings(env, tree);
  const insecureHttp = readBool(env["FAME_DEV_INSECURE_HTTP"], "FAME_DEV_INSECURE_HTTP", false);
  const rawPublicUrl = env["FAME_PUBLIC_URL"] || node["publicUrl"];
  const publicUrl =
    rawPublicUrl === undefined || rawPublicUrl === null || rawPublicUrl === ""
      ? undefined
      : readUrl(rawPublicUrl, "FAME_PUBLIC_URL", { protocols: insecureHttp ? ["wss:", "ws:"] : ["wss:"] })
          .href;

  const heartbeatMs = readInt(env["FAME_HEARTBEAT_MS"], "FAME_HEARTBEAT_MS", {
    fallback: 5000,
    min: 100,
    max: 600_000,
  });
  const config: SentinelConfig = {
    sentinelId: readString(env["FAME_NODE_ID"] || node["id"], "FAME_NODE_ID", "sentinel0"),
    host: readString(env["FAME_SENTINEL_HOST"], "FAME_SENTINEL_HOST", "127.0.0.1"),
    port: readPort(env["FAME_SENTINEL_PORT"] || yamlPort, "FAME_SENTINEL_PORT", 8000),
    tls: serverTlsFromEnv(env),
    connectionLimits: connectionLimitsFromEnv(env),
    securityProfile,
    admissionProfile,
    welcomeJwksUrl,
    welcomeJwksFile,
    welcomeIssuer: readString(env["FAME_WELCOME_ISSUER"], "FAME_WELCOME_ISSUER", "https://localhost:8444"),
    // every sentinel of a cluster accepts the tickets Welcome issues for the cluster
    ticketAudience: readString(
      env["FAME_SENTINEL_AUDIENCE"],
      "FAME_SENTINEL_AUDIENCE",
      storage.profile === "nats" ? clusterAudience(storage.clusterId) : "fame-sentinel",
    ),
    directToken,
    trustBundlePem,
    trustDomain: readString(env["FAME_TRUST_DOMAIN"], "FAME_TRUST_DOMAIN", "fame.fabric"),
    loadBalancing: readEnum(
      env["FAME_LOAD_BALANCING"] || pick(tree, "node.loadBalancing.strategy"),
      "FAME_LOAD_BALANCING",
      LB_STRATEGIES,
      "round_robin",
    ),
    stickiness: pick(tree, "node.stickiness"),
    pools: poolsFrom(tree, env["FAME_NODE_ID"] || node["id"]),
    accessPolicy: accessPolicyFromConfig(env, tree),
    heartbeatMs,
    heartbeatMissLimit: readInt(env["FAME_HEARTBEAT_MISS_LIMIT"], "FAME_HEARTBEAT_MISS_LIMIT", {
      fallback: 3,
      min: 1,
      max: 100,
    }),
    attachTimeoutMs: readInt(env["FAME_ATTACH_TIMEOUT_MS"], "FAME_ATTACH_TIMEOUT_MS", {
      fallback: 5000,
      min: 100,
      max: 120_000,
    }),
    maxFrameBytes: readInt(env["FAME_MAX_FRAME_BYTES"], "FAME_MAX_FRAME_BYTES", {
      fallback: 1024 * 1024,
      min: 4096,
      max: 64 * 1024 * 1024,
    }),
    maxInflightPerConnection: readInt(env["FAME_MAX_INFLIGHT"], "FAME_MAX_INFLIGHT", {
      fallback: 1024,
      min: 1,
      max: 1_000_000,
    }),
    maxInflightPerPrincipal: readInt(
      env["FAME_MAX_INFLIGHT_PER_PRINCIPAL"],
      "FAME_MAX_INFLIGHT_PER_PRINCIPAL",
      { fallback: DEFAULT_MAX_INFLIGHT_PER_PRINCIPAL, min: 1, max: 1_000_000 },
    ),
    linkBatch: readBool(env["FAME_LINK_BATCH"], "FAME_LINK_BATCH", true),
    clusterDirectLinks: readBool(env["FAME_CLUSTER_DIRECT_LINKS"], "FAME_CLUSTER_DIRECT_LINKS", true),
    adminToken: adminTokenFrom(env),
    storage,
    publicUrl,
    ...limitsFromEnv(env, heartbeatMs),
  };
  // contradictory settings stop the start (exit 2) instead of refusing every node at run time
  checkConfigConflicts(config, env);
  return config;
}

/** the shortest admin token accepted: anything shorter is guessable over the network */
const MIN_ADMIN_TOKEN_CHARS = 16;

function adminTokenFrom(env: NodeJS.ProcessEnv): string | undefined {
  let token = readOptionalString(env["FAME_SENTINEL_ADMIN_TOKEN"], "FAME_SENTINEL_ADMIN_TOKEN");
  let setting = "FAME_SENTINEL_ADMIN_TOKEN";
  const file = readOptionalString(env["FAME_SENTINEL_ADMIN_TOKEN_FILE"], "FAME_SENTINEL_ADMIN_TOKEN_FILE");
  if (token === undefined && file !== undefined) {
    token = readSettingFile(file, "FAME_SENTINEL_ADMIN_TOKEN_FILE").trim();
    setting = "FAME_SENTINEL_ADMIN_TOKEN_FILE";
  }
  if (token !== undefined && token.length < MIN_ADMIN_TOKEN_CHARS) {
    throw new ConfigError(setting, `the admin token must have at least ${MIN_ADMIN_TOKEN_CHARS} characters`);
  }
  return token;
}

/** The DoS limits (defaults in limits/defaults.ts); each refusal names its setting. */
function limitsFromEnv(
  env: NodeJS.ProcessEnv,
  heartbeatMs: number,
): Pick<
  SentinelConfig,
  | "maxChannelsPerClient"
  | "maxExclusiveSessionsPerClient"
  | "sessionPrincipalSharePct"
  | "attachRatePerMin"
  | "maxPendingAttach"
  | "maxPendingAttachPerIp"
  | "idleTimeoutMs"
  | "maxFramesPerSec"
  | "frameBurst"
  | "maxSessions"
  | "maxBindingsPerPrincipal"
  | "maxClockSkewMs"
> {
  const idleTimeoutMs = readInt(env["FAME_IDLE_TIMEOUT_MS"], "FAME_IDLE_TIMEOUT_MS", {
    // unset, it also stays clear of a long heartbeat interval
    fallback: Math.max(LIMIT_DEFAULTS.idleTimeoutMs, 4 * heartbeatMs),
    min: 1000,
    max: 24 * 3_600_000,
  });
  if (idleTimeoutMs <= heartbeatMs) {
    // Heartbeats are what keeps a quiet node's connection alive; a shorter idle limit would cut healthy nodes.
    throw new ConfigError(
      "FAME_IDLE_TIMEOUT_MS",
      `must be longer than the heartbeat interval FAME_HEARTBEAT_MS (${heartbeatMs} ms), got ${idleTimeoutMs}`,
    );
  }
  return {
    maxChannelsPerClient: readInt(env["FAME_MAX_CHANNELS_PER_CLIENT"], "FAME_MAX_CHANNELS_PER_CLIENT", {
      fallback: LIMIT_DEFAULTS.maxChannelsPerClient,
      min: 1,
      max: 1_000_000,
    }),
    maxExclusiveSessionsPerClient: readInt(
      env["FAME_MAX_EXCLUSIVE_SESSIONS_PER_CLIENT"],
      "FAME_MAX_EXCLUSIVE_SESSIONS_PER_CLIENT",
      { fallback: LIMIT_DEFAULTS.maxExclusiveSessionsPerClient, min: 1, max: 1_000_000 },
    ),
    sessionPrincipalSharePct: readInt(
      env["FAME_SESSION_PRINCIPAL_SHARE_PCT"],
      "FAME_SESSION_PRINCIPAL_SHARE_PCT",
      { fallback: LIMIT_DEFAULTS.sessionPrincipalSharePct, min: 1, max: 100 },
    ),
    attachRatePerMin: readInt(env["FAME_ATTACH_RATE_PER_MIN"], "FAME_ATTACH_RATE_PER_MIN", {
      fallback: LIMIT_DEFAULTS.attachRatePerMin,
      min: 1,
      max: 1_000_000,
    }),
    maxPendingAttach: readInt(env["FAME_MAX_PENDING_ATTACH"], "FAME_MAX_PENDING_ATTACH", {
      fallback: LIMIT_DEFAULTS.maxPendingAttach,
      min: 1,
      max: 1_000_000,
    }),
    maxPendingAttachPerIp: readInt(env["FAME_MAX_PENDING_ATTACH_PER_IP"], "FAME_MAX_PENDING_ATTACH_PER_IP", {
      fallback: LIMIT_DEFAULTS.maxPendingAttachPerIp,
      min: 1,
      max: 1_000_000,
    }),
    idleTimeoutMs,
    maxFramesPerSec: readInt(env["FAME_MAX_FRAMES_PER_SEC"], "FAME_MAX_FRAMES_PER_SEC", {
      fallback: LIMIT_DEFAULTS.maxFramesPerSec,
      min: 1,
      max: 100_000_000,
    }),
    frameBurst: readInt(env["FAME_FRAME_BURST"], "FAME_FRAME_BURST", {
      fallback: LIMIT_DEFAULTS.frameBurst,
      min: 1,
      max: 100_000_000,
    }),
    maxSessions: readInt(env["FAME_MAX_SESSIONS"], "FAME_MAX_SESSIONS", {
      fallback: LIMIT_DEFAULTS.maxSessions,
      min: 1,
      max: 10_000_000,
    }),
    maxBindingsPerPrincipal: readInt(
      env["FAME_MAX_BINDINGS_PER_PRINCIPAL"],
      "FAME_MAX_BINDINGS_PER_PRINCIPAL",
      { fallback: LIMIT_DEFAULTS.maxBindingsPerPrincipal, min: 1, max: 10_000_000 },
    ),
    maxClockSkewMs: readInt(env["FAME_MAX_CLOCK_SKEW_MS"], "FAME_MAX_CLOCK_SKEW_MS", {
      fallback: DEFAULT_MAX_CLOCK_SKEW_MS,
      min: 1000,
      max: 3_600_000,
    }),
  };
}

/** The `node.pools` block; health-checked pools need the sentinel id to be a path segment. */
function poolsFrom(tree: Record<string, unknown>, rawSentinelId: unknown): PoolPolicy[] {
  const pools = parsePoolPolicies(pick(tree, "node.pools"), "node.pools");
  checkHealthReplyPath(pools, readString(rawSentinelId, "FAME_NODE_ID", "sentinel0"), "FAME_NODE_ID");
  return pools;
}

/**
 * The YAML keys the sentinel reads (camelCase, as loaded; snake_case in the file): any other
 * key is a typo that would drop its whole block silently — `nod:` for `node:` started an open
 * sentinel, `pool:` for `pools:` one without its pool policies. `pools` and `stickiness` check
 * their own keys. `env:` holds FAME_* variables, checked where each is read.
 */
const SENTINEL_YAML_KEYS: KnownKeys = {
  "": ["node", "env"],
  node: [
    "type",
    "id",
    "listeners",
    "requestedLogicals",
    "security",
    "admission",
    "stickiness",
    "storage",
    "pools",
    "loadBalancing",
    "publicUrl",
  ],
  "node.security": ["type", "profile"],
  "node.admission": ["type", "profile"],
  "node.storage": ["type", "profile"],
  "node.loadBalancing": ["type", "strategy"],
};
