import {
  type AdmissionProfile,
  ConfigError,
  envWithYaml,
  loadYamlConfig,
  NODE_YAML_KEYS,
  pick,
  readBool,
  readEnum,
  readInt,
  readNumber,
  readOptionalString,
  readProfiles,
  readString,
  refuseUnknownKeys,
  type SecurityProfile,
} from "@fame/config";
import { trustBundleFromEnv } from "@fame/http-service/tls";
import { isValidLogical, isWildcardLogical, NODE_NAME_PATTERN } from "@fame/protocol";

export const ENCRYPTION_LEVELS = ["plaintext", "channel"] as const;
export type EncryptionLevel = (typeof ENCRYPTION_LEVELS)[number];

export interface NodeConfig {
  securityProfile: SecurityProfile;
  admissionProfile: AdmissionProfile;
  encryptionLevel: EncryptionLevel;
  /** direct/none: where to attach (welcome says it in its answer) */
  sentinelUrl: string;
  /** direct: the static attach token */
  attachToken: string | undefined;
  trustBundlePem: string | undefined;
  /** direct/none: the node id to ask for; default random */
  nodeId: string | undefined;
  /** logicals this node asks to serve (`*.fame.fabric` = one replica of a pool) */
  requestedLogicals: string[];
  showEnvelopes: boolean;
  /** FAME_LINK_BATCH: one turn's envelopes travel as one link batch when the sentinel takes them */
  linkBatch: boolean;
  /** FAME_BINARY_RECORDS: sealed Data travels as binary records when the sentinel takes them */
  binaryRecords: boolean;
  /** FAME_POOL_BATCH: clear calls of one turn to one logical address travel as one batch */
  poolBatch: boolean;
  /** FAME_DEV_INSECURE_HTTP: plain ws:// to the sentinel allowed (development only) */
  devInsecureHttp: boolean;
  callTimeoutMs: number;
  /** FAME_MAX_CLOCK_SKEW_MS: signed envelopes whose ts is further from our clock are refused */
  maxClockSkewMs: number;
  /**
   * FAME_START_WAIT_MS: how long the first attach waits out a busy fabric (a 429 or 503 with
   * Retry-After from the sentinel, Welcome or the CA) before start fails; 0: at the first one
   */
  startWaitMs: number;
  /** FAME_RPC_CALLER_SHARE_PCT: the share of an agent's call slots one caller may hold */
  callerSharePct: number;
  /** FAME_RPC_PRINCIPAL_SHARE_PCT: the share all callers admitted with one credential may hold together */
  principalSharePct: number;
  /** FAME_CHANNEL_IDLE_SEC: a replica's channel unused this long may be evicted for a new one */
  channelIdleMs: number;
  /** FAME_MAX_CHANNELS_PER_PEER: channels one client node may hold at this replica */
  maxChannelsPerPeer: number;
  /** FAME_MAX_ACCEPTED_CHANNELS: channels this replica keeps at most, from all its clients */
  maxChannelsAccepted: number;
  /** FAME_MAX_CHANNELS_PER_PRINCIPAL: channels the client nodes of one credential may hold at this replica together */
  maxChannelsPerPrincipal: number;
  /** FAME_RECONNECT_MAX_ATTEMPTS: reattach attempts before the node gives up (0: never) */
  reconnectMaxAttempts: number;
  /** retries of calls that provably did not run (or are idempotent) */
  retry: { maxRetries: number; initialDelayMs: number; factor: number; maxDelayMs: number };
  trustDomain: string;
  /** FAME_DRAIN_TIMEOUT_MS: a serving node's drain on SIGTERM lasts at most this long */
  drainTimeoutMs: number;
  /** FAME_DRAIN_QUIET_MS: a pinned client that has not called for this long is taken to be done */
  drainQuietMs: number;
  /** FAME_REPLICA_NAME or FAME_NODE_NAME: the name logs and the sentinel's status show */
  nodeName: string | undefined;
  env: NodeJS.ProcessEnv;
}

function logicalsFrom(raw: unknown, setting: string): string[] | undefined {
  if (raw === undefined || raw === null || raw === "") return undefined;
  const list = Array.isArray(raw) ? raw : String(raw).split(",");
  const out: string[] = [];
  for (const item of list) {
    const s = String(item).trim();
    if (s === "") continue;
    if (!isValidLogical(s) && !isWildcardLogical(s)) {
      throw new ConfigError(setting, `"${s}" is not a DNS-style logical (or *.wildcard)`);
    }
    out.push(s);
  }
  return out;
}

/**
 * A node's settings from FAME_* variables and the YAML file (FAME_CONFIG),
 * environment first. Wrong values stop the node at start, naming the setting.
 */
export function nodeConfigFromEnv(processEnv: NodeJS.ProcessEnv = process.env): NodeConfig {
  const { tree } = loadYamlConfig(processEnv);
  refuseUnknownKeys(tree, NODE_YAML_KEYS);
  // The YAML's `env:` block may supply FAME_* settings too (real variables win),
  // so one file describes a node, as it does for the identity services.
  const env = envWithYaml(processEnv);
  const { securityProfile, admissionProfile } = readProfiles(env, tree);
  const requested =
    logicalsFrom(env["FAME_REQUESTED_LOGICALS"], "FAME_REQUESTED_LOGICALS") ??
    logicalsFrom(pick(tree, "node.requestedLogicals"), "node.requested_logicals") ??
    [];
  const attachToken = readOptionalString(env["FAME_ADMISSION_TOKEN"], "FAME_ADMISSION_TOKEN");
  const maxChannelsAccepted = readInt(env["FAME_MAX_ACCEPTED_CHANNELS"], "FAME_MAX_ACCEPTED_CHANNELS", {
    fallback: 10_000,
    min: 1,
    max: 1_000_000,
  });
  if (admissionProfile === "direct" && !attachToken) {
    throw new ConfigError(
      "FAME_ADMISSION_TOKEN",
      "the direct admission profile needs the static attach token",
    );
  }
  if (securityProfile === "strict-overlay" && admissionProfile !== "welcome") {
    throw new ConfigError(
      "FAME_ADMISSION_PROFILE",
      "strict-overlay needs certificates, which come with the welcome admission profile",
    );
  }
  const trustBundlePem = trustBundleFromEnv(env);
  if (admissionProfile === "welcome" && trustBundlePem === undefined) {
    // named here, before admission spends a token and a ticket on a node that cannot finish it
    throw new ConfigError(
      "FAME_CA_CERTS",
      "is required with the welcome admission profile: the fabric's CA is private, and the node checks its issued certificate and the TLS of the identity services against it (make start's bundle: certs/trust-bundle.pem)",
    );
  }
  const nodeId = readOptionalString(env["FAME_NODE_ID"], "FAME_NODE_ID");
  if (nodeId !== undefined && !/^[A-Za-z0-9_]{1,64}$/.test(nodeId)) {
    throw new ConfigError("FAME_NODE_ID", "must be 1-64 characters of A-Z a-z 0-9 _ (no '-')");
  }
  const devInsecureHttp = readBool(env["FAME_DEV_INSECURE_HTTP"], "FAME_DEV_INSECURE_HTTP", false);
  const sentinelUrl = readString(
    env["FAME_SENTINEL_URL"],
    "FAME_SENTINEL_URL",
    "wss://localhost:8000/fame/v1/attach/ws/downstream",
  );
  checkTransportUrl(sentinelUrl, devInsecureHttp, "FAME_SENTINEL_URL");
  return {
    securityProfile,
    admissionProfile,
    encryptionLevel: readEnum(
      env["FAME_DEFAULT_ENCRYPTION_LEVEL"],
      "FAME_DEFAULT_ENCRYPTION_LEVEL",
      ENCRYPTION_LEVELS,
      "plaintext",
    ),
    sentinelUrl,
    attachToken,
    trustBundlePem,
    nodeId,
    requestedLogicals: requested,
    showEnvelopes: readBool(env["FAME_SHOW_ENVELOPES"], "FAME_SHOW_ENVELOPES", false),
    binaryRecords: readBool(env["FAME_BINARY_RECORDS"], "FAME_BINARY_RECORDS", true),
    linkBatch: readBool(env["FAME_LINK_BATCH"], "FAME_LINK_BATCH", true),
    poolBatch: readBool(env["FAME_POOL_BATCH"], "FAME_POOL_BATCH", true),
    devInsecureHttp,
    callTimeoutMs: readInt(env["FAME_RPC_TIMEOUT_MS"], "FAME_RPC_TIMEOUT_MS", {
      fallback: 30_000,
      min: 10,
      max: 3_600_000,
    }),
    maxClockSkewMs: readInt(env["FAME_MAX_CLOCK_SKEW_MS"], "FAME_MAX_CLOCK_SKEW_MS", {
      fallback: 60_000,
      min: 1000,
      max: 3_600_000,
    }),
    startWaitMs: readInt(env["FAME_START_WAIT_MS"], "FAME_START_WAIT_MS", {
      fallback: 30_000,
      min: 0,
      max: 3_600_000,
    }),
    callerSharePct: readInt(env["FAME_RPC_CALLER_SHARE_PCT"], "FAME_RPC_CALLER_SHARE_PCT", {
      fallback: 50,
      min: 1,
      max: 100,
    }),
    principalSharePct: readInt(env["FAME_RPC_PRINCIPAL_SHARE_PCT"], "FAME_RPC_PRINCIPAL_SHARE_PCT", {
      fallback: 75,
      min: 1,
      max: 100,
    }),
    channelIdleMs:
      readInt(env["FAME_CHANNEL_IDLE_SEC"], "FAME_CHANNEL_IDLE_SEC", { fallback: 300, min: 1, max: 86_400 }) *
      1000,
    maxChannelsPerPeer: readInt(env["FAME_MAX_CHANNELS_PER_PEER"], "FAME_MAX_CHANNELS_PER_PEER", {
      fallback: 64,
      min: 1,
      max: 100_000,
    }),
    maxChannelsAccepted,
    maxChannelsPerPrincipal: readInt(
      env["FAME_MAX_CHANNELS_PER_PRINCIPAL"],
      "FAME_MAX_CHANNELS_PER_PRINCIPAL",
      {
        fallback: Math.max(1, Math.floor(maxChannelsAccepted * 0.75)),
        min: 1,
        max: 1_000_000,
      },
    ),
    reconnectMaxAttempts: readInt(env["FAME_RECONNECT_MAX_ATTEMPTS"], "FAME_RECONNECT_MAX_ATTEMPTS", {
      fallback: 0,
      min: 0,
      max: 1_000_000_000,
    }),
    retry: {
      maxRetries: readInt(env["FAME_RPC_MAX_RETRIES"], "FAME_RPC_MAX_RETRIES", {
        fallback: 3,
        min: 0,
        max: 100,
      }),
      initialDelayMs: readInt(env["FAME_RPC_RETRY_INITIAL_MS"], "FAME_RPC_RETRY_INITIAL_MS", {
        fallback: 100,
        min: 0,
        max: 60_000,
      }),
      factor: readNumber(env["FAME_RPC_RETRY_FACTOR"], "FAME_RPC_RETRY_FACTOR", {
        fallback: 2,
        min: 1,
        max: 10,
      }),
      maxDelayMs: readInt(env["FAME_RPC_RETRY_MAX_MS"], "FAME_RPC_RETRY_MAX_MS", {
        fallback: 2000,
        min: 0,
        max: 600_000,
      }),
    },
    trustDomain: readString(env["FAME_TRUST_DOMAIN"], "FAME_TRUST_DOMAIN", "fame.fabric"),
    drainTimeoutMs: readInt(env["FAME_DRAIN_TIMEOUT_MS"], "FAME_DRAIN_TIMEOUT_MS", {
      fallback: 10_000,
      min: 0,
      max: 600_000,
    }),
    drainQuietMs: readInt(env["FAME_DRAIN_QUIET_MS"], "FAME_DRAIN_QUIET_MS", {
      fallback: 1000,
      min: 0,
      max: 60_000,
    }),
    nodeName: nodeNameFrom(env),
    env,
  };
}

/** Longest node name: it travels in the attach frame and shows in the sentinel's status. */
const MAX_NODE_NAME_LENGTH = 64;

function nodeNameFrom(env: NodeJS.ProcessEnv): string | undefined {
  for (const setting of ["FAME_REPLICA_NAME", "FAME_NODE_NAME"]) {
    const name = readOptionalString(env[setting], setting);
    if (name === undefined) continue;
    if (!NODE_NAME_PATTERN.test(name)) {
      throw new ConfigError(
        setting,
        `must be 1-${MAX_NODE_NAME_LENGTH} characters of A-Z a-z 0-9 _ . - (got "${name}")`,
      );
    }
    return name;
  }
  return undefined;
}

/**
 * The sentinel link carries tickets, keys and (in open/overlay) payloads: TLS
 * (wss:) always, plain ws: only with FAME_DEV_INSECURE_HTTP=1.
 */
export function checkTransportUrl(url: string, devInsecureHttp: boolean, setting: string): void {
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new ConfigError(setting, `"${url}" is not a URL`);
  }
  if (protocol === "wss:") return;
  if (protocol === "ws:" && devInsecureHttp) return;
  throw new ConfigError(
    setting,
    protocol === "ws:"
      ? `plain ${protocol}// refused: use wss:// (or set FAME_DEV_INSECURE_HTTP=1 for development)`
      : `must be a wss:// URL, got ${protocol}//`,
  );
}
