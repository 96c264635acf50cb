import {
  type AdmissionProfile,
  ConfigError,
  loadYamlConfig,
  pick,
  readEnum,
  readInt,
  readOptionalString,
  readPort,
  readProfiles,
  readString,
  type SecurityProfile,
} from "@fame/config";
import { type ServerTls, serverTlsFromEnv, trustBundleFromEnv } from "@fame/http-service";

export {
  ADMISSION_PROFILES,
  type AdmissionProfile,
  SECURITY_PROFILES,
  type SecurityProfile,
} from "@fame/config";
export const LB_STRATEGIES = ["round_robin", "random", "least_inflight", "hrw"] as const;
export type LbStrategy = (typeof LB_STRATEGIES)[number];

export interface SentinelConfig {
  sentinelId: string;
  host: string;
  port: number;
  /** null only with FAME_DEV_INSECURE_HTTP=1 */
  tls: ServerTls | null;
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
  heartbeatMs: number;
  heartbeatMissLimit: number;
  attachTimeoutMs: number;
  maxFrameBytes: number;
  maxInflightPerConnection: number;
  /** bearer token for GET /fame/v1/status from non-loopback addresses */
  adminToken: string | undefined;
}

/**
 * Reads the sentinel's configuration: YAML (FAME_CONFIG) shaped like the seed's
 * `node:` block, with FAME_* environment variables taking precedence. Every
 * refusal names the setting to fix.
 */
export function sentinelConfigFromEnv(env: NodeJS.ProcessEnv = process.env): SentinelConfig {
  const { tree } = loadYamlConfig(env);
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
  const welcomeJwksUrl = welcomeJwksFile
    ? undefined
    : readString(
        env["FAME_WELCOME_JWKS_URL"],
        "FAME_WELCOME_JWKS_URL",
        "https://localhost:8444/.well-known/jwks.json",
      );

  return {
    sentinelId: readString(env["FAME_NODE_ID"] || node["id"], "FAME_NODE_ID", "sentinel0"),
    host: readString(env["FAME_SENTINEL_HOST"], "FAME_SENTINEL_HOST", "127.0.0.1"),
    port: readPort(env["FAME_SENTINEL_PORT"] || yamlPort, "FAME_SENTINEL_PORT", 8000),
    tls: serverTlsFromEnv(env),
    securityProfile,
    admissionProfile,
    welcomeJwksUrl,
    welcomeJwksFile,
    welcomeIssuer: readString(env["FAME_WELCOME_ISSUER"], "FAME_WELCOME_ISSUER", "https://localhost:8444"),
    ticketAudience: readString(env["FAME_SENTINEL_AUDIENCE"], "FAME_SENTINEL_AUDIENCE", "fame-sentinel"),
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
    heartbeatMs: readInt(env["FAME_HEARTBEAT_MS"], "FAME_HEARTBEAT_MS", {
      fallback: 5000,
      min: 100,
      max: 600_000,
    }),
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
    adminToken: readOptionalString(env["FAME_SENTINEL_ADMIN_TOKEN"], "FAME_SENTINEL_ADMIN_TOKEN"),
  };
}
