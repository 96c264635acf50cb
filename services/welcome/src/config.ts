import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  ConfigError,
  clusterAudience,
  loadYamlConfig,
  readBool,
  readInt,
  readPort,
  readStorageSettings,
  readString,
  readUrl,
  type StorageSettings,
  withoutTrailingSlash,
} from "@fame/config";
import { type ConnectionLimits, connectionLimitsFromEnv } from "@fame/http-service/connection-limits";
import { type ServerTls, serverTlsFromEnv, trustBundleFromEnv } from "@fame/http-service/tls";
import { workGateFromEnv } from "@fame/http-service/work-gate";
import {
  type AccessPolicyDocument,
  DEFAULT_JWT_AUDIENCE,
  DEFAULT_OAUTH2_ISSUER,
  DEFAULT_SENTINEL_AUDIENCE,
  DEFAULT_TICKET_TTL_SEC,
  DEFAULT_WELCOME_ISSUER,
  isDnsLogical,
  isSystemId,
  isWildcardPattern,
  loadAccessPolicyFile,
  loadPublicJwksFile,
  loadSigningKeyFile,
  MAX_TICKET_TTL_SEC,
  type SigningKey,
  type VerificationKeys,
} from "@fame/identity";
import type { Logger } from "@fame/logger";
import type { FabricStateOptions } from "@fame/state";
import { createLocalJWKSet } from "jose";
import { remoteAccessTokenKeys } from "./access-token-keys.js";
import { loadNodeIdKey } from "./node-id.js";
import type { PlacementStrategy } from "./placement.js";

export interface WelcomeConfig {
  host: string;
  port: number;
  tls: ServerTls | null;
  /** deadlines and caps before a connection has made its request (FAME_TLS_HANDSHAKE_TIMEOUT_MS, FAME_HTTP_*_TIMEOUT_MS, FAME_MAX_HANDSHAKES*) */
  connectionLimits?: ConnectionLimits;
  /** `iss` of the attach tickets and CA grants this service signs */
  issuer: string;
  signingKey: SigningKey;
  /** how access tokens are checked: OAuth2's keys, expected iss and aud */
  accessToken: { keys: VerificationKeys; issuer: string; audience: string; clockToleranceSec?: number };
  sentinelAudience: string;
  sentinelId: string;
  ticketTtlSec: number;
  caGrantTtlSec: number;
  transportUrl: string;
  /** full URL of the CA's sign endpoint, handed to nodes with their grant */
  caSignUrl: string;
  allowedDomains: string[];
  wildcardPatterns: string[];
  /** FAME_POLICY_FILE: which OAuth2 clients may serve which logicals (the sentinel reads the same file) */
  accessPolicy?: AccessPolicyDocument | undefined;
  /** honour a caller-proposed systemId (renewals keeping their identity); default false */
  allowClientSystemId?: boolean;
  /**
   * One sentinel: the HMAC key of stable systemIds (FAME_WELCOME_NODE_ID_KEY_FILE, or the dev
   * PKI's file when present). Absent: a random key for this process, so a node keeps its
   * identity across reattaches while this Welcome runs. A cluster uses `cluster.nodeIdKey`.
   */
  nodeIdKey?: Uint8Array | undefined;
  placement?: PlacementStrategy;
  /**
   * Admissions in progress at once and waiting their turn (FAME_WELCOME_MAX_HELLOS,
   * FAME_WELCOME_HELLO_QUEUE); beyond both a hello is answered 503 with `retry_after`.
   */
  admitting?: { maxActive: number; maxQueued: number };
  /** a cluster of sentinels (FAME_STORAGE_PROFILE=nats); absent: one sentinel, as always */
  cluster?: WelcomeCluster | undefined;
  logger?: Logger;
}

/** What Welcome needs to admit nodes into a cluster of sentinels. */
export interface WelcomeCluster {
  /** paths are `/<clusterId>/<systemId>` */
  clusterId: string;
  /** where the sentinels advertise themselves (the cluster's shared state) */
  storage: StorageSettings;
  /** HMAC key of the stable systemIds (FAME_WELCOME_NODE_ID_KEY_FILE); secret */
  nodeIdKey: Uint8Array;
  /** tuning of the shared state (tests: a memory hub shared with the sentinels) */
  stateOptions?: FabricStateOptions;
}

export const DEFAULT_WELCOME_PORT = 8444;
/**
 * A hello costs ~4 ms of Welcome CPU with its TLS handshake (a token check and two signatures;
 * docs/performance.md, Reconnect storm): ~250 per second per process. 1024 waiting drain in ~4 s,
 * inside the admission client's 10 s step timeout.
 */
export const DEFAULT_WELCOME_ADMITTING = { maxActive: 16, maxQueued: 1024 };
export const DEFAULT_TRANSPORT_URL = "wss://localhost:8000/fame/v1/attach/ws/downstream";
export const DEFAULT_CA_SERVICE_URL = "https://localhost:8445";
export const CA_SIGN_PATH = "/fame/v1/ca/sign";

export async function welcomeConfigFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<WelcomeConfig> {
  const certsDir = readString(env["FAME_CERTS_DIR"], "FAME_CERTS_DIR", "certs");
  const keyFile = readString(
    env["FAME_WELCOME_SIGNING_KEY_FILE"],
    "FAME_WELCOME_SIGNING_KEY_FILE",
    join(certsDir, "secrets", "welcome-signing-key.json"),
  );
  const sentinelId = readString(env["FAME_SENTINEL_ID"], "FAME_SENTINEL_ID", "sentinel0");
  if (!isSystemId(sentinelId)) throw new ConfigError("FAME_SENTINEL_ID", "must match [A-Za-z0-9_]{1,64}");
  const storage = readStorageSettings(env, loadYamlConfig(env).tree);
  const cluster = storage.profile === "nats" ? clusterFromEnv(env, storage, certsDir) : undefined;
  const caBase = readUrl(env["FAME_CA_SERVICE_URL"], "FAME_CA_SERVICE_URL", {
    fallback: DEFAULT_CA_SERVICE_URL,
    protocols: devInsecure(env) ? ["https:", "http:"] : ["https:"],
  });
  return {
    host: readString(env["FAME_WELCOME_HOST"], "FAME_WELCOME_HOST", "127.0.0.1"),
    port: readPort(env["FAME_WELCOME_PORT"], "FAME_WELCOME_PORT", DEFAULT_WELCOME_PORT),
    tls: serverTlsFromEnv(env),
    connectionLimits: connectionLimitsFromEnv(env),
    admitting: workGateFromEnv(
      env,
      { active: "FAME_WELCOME_MAX_HELLOS", queued: "FAME_WELCOME_HELLO_QUEUE" },
      DEFAULT_WELCOME_ADMITTING,
    ),
    issuer: withoutTrailingSlash(
      readUrl(env["FAME_WELCOME_ISSUER"], "FAME_WELCOME_ISSUER", { fallback: DEFAULT_WELCOME_ISSUER }).href,
    ),
    signingKey: await loadSigningKeyFile(keyFile, "FAME_WELCOME_SIGNING_KEY_FILE"),
    accessToken: {
      keys: accessTokenKeysFromEnv(env),
      issuer: withoutTrailingSlash(
        readUrl(env["FAME_OAUTH2_ISSUER"], "FAME_OAUTH2_ISSUER", { fallback: DEFAULT_OAUTH2_ISSUER }).href,
      ),
      audience: readString(env["FAME_JWT_AUDIENCE"], "FAME_JWT_AUDIENCE", DEFAULT_JWT_AUDIENCE),
      clockToleranceSec: readInt(env["FAME_JWT_CLOCK_TOLERANCE_SEC"], "FAME_JWT_CLOCK_TOLERANCE_SEC", {
        fallback: 30,
        min: 0,
        max: 300,
      }),
    },
    // every sentinel of a cluster accepts the tickets issued for the cluster
    sentinelAudience: readString(
      env["FAME_SENTINEL_AUDIENCE"],
      "FAME_SENTINEL_AUDIENCE",
      cluster ? clusterAudience(cluster.clusterId) : DEFAULT_SENTINEL_AUDIENCE,
    ),
    sentinelId,
    ticketTtlSec: ttl(env, "FAME_WELCOME_TICKET_TTL_SEC"),
    caGrantTtlSec: ttl(env, "FAME_WELCOME_CA_GRANT_TTL_SEC"),
    transportUrl: readUrl(env["FAME_TRANSPORT_URL"], "FAME_TRANSPORT_URL", {
      fallback: DEFAULT_TRANSPORT_URL,
      protocols: devInsecure(env) ? ["wss:", "ws:"] : ["wss:"],
    }).href,
    caSignUrl: `${withoutTrailingSlash(caBase.href)}${CA_SIGN_PATH}`,
    allowedDomains: listSetting(
      env,
      "FAME_WELCOME_ALLOWED_DOMAINS",
      "fame.fabric",
      isDnsLogical,
      "DNS names",
    ),
    wildcardPatterns: listSetting(
      env,
      "FAME_WELCOME_WILDCARD_LOGICALS",
      "*.fame.fabric",
      isWildcardPattern,
      "*.domain patterns",
    ),
    accessPolicy: policyFromEnv(env),
    allowClientSystemId: allowClientSystemId(env, cluster !== undefined),
    nodeIdKey: cluster ? undefined : singleSentinelNodeIdKey(env, certsDir),
    cluster,
  };
}

/**
 * One sentinel: the key file when it is named or the dev PKI wrote one; else undefined (the
 * service makes a random key). A named file that cannot be read is an error, never skipped.
 */
function singleSentinelNodeIdKey(env: NodeJS.ProcessEnv, certsDir: string): Uint8Array | undefined {
  const named = env["FAME_WELCOME_NODE_ID_KEY_FILE"];
  if (named !== undefined && named !== "") return loadNodeIdKey(named, "FAME_WELCOME_NODE_ID_KEY_FILE");
  const devFile = join(certsDir, "secrets", "welcome-node-id-key");
  return existsSync(devFile) ? loadNodeIdKey(devFile, "FAME_WELCOME_NODE_ID_KEY_FILE") : undefined;
}

function clusterFromEnv(env: NodeJS.ProcessEnv, storage: StorageSettings, certsDir: string): WelcomeCluster {
  const keyFile = readString(
    env["FAME_WELCOME_NODE_ID_KEY_FILE"],
    "FAME_WELCOME_NODE_ID_KEY_FILE",
    join(certsDir, "secrets", "welcome-node-id-key"),
  );
  return {
    clusterId: storage.clusterId,
    storage,
    nodeIdKey: loadNodeIdKey(keyFile, "FAME_WELCOME_NODE_ID_KEY_FILE"),
  };
}

/**
 * A caller-proposed systemId is a single sentinel's renewal aid; in a cluster the id is derived
 * from the principal, and honouring a proposal would let one principal take another's path.
 */
function allowClientSystemId(env: NodeJS.ProcessEnv, cluster: boolean): boolean {
  const allowed = readBool(
    env["FAME_WELCOME_ALLOW_CLIENT_SYSTEM_ID"],
    "FAME_WELCOME_ALLOW_CLIENT_SYSTEM_ID",
    false,
  );
  if (allowed && cluster)
    throw new ConfigError(
      "FAME_WELCOME_ALLOW_CLIENT_SYSTEM_ID",
      "cannot be used with FAME_STORAGE_PROFILE=nats: a cluster derives each node's systemId from its principal",
    );
  return allowed;
}

/** The access policy file, when FAME_POLICY_FILE names one; a defect stops the start (exit 2). */
function policyFromEnv(env: NodeJS.ProcessEnv): AccessPolicyDocument | undefined {
  const file = readString(env["FAME_POLICY_FILE"], "FAME_POLICY_FILE", "").trim();
  return file === "" ? undefined : loadAccessPolicyFile(file, "FAME_POLICY_FILE", env);
}

/** FAME_JWKS_FILE (a JWKS JSON document, for tests and offline runs) wins over FAME_JWKS_URL. */
function accessTokenKeysFromEnv(env: NodeJS.ProcessEnv): VerificationKeys {
  const file = env["FAME_JWKS_FILE"];
  // Built once here rather than per request.
  if (file) return createLocalJWKSet(loadPublicJwksFile(file, "FAME_JWKS_FILE"));
  const url = readUrl(env["FAME_JWKS_URL"], "FAME_JWKS_URL", {
    fallback: `${DEFAULT_OAUTH2_ISSUER}/.well-known/jwks.json`,
    protocols: devInsecure(env) ? ["https:", "http:"] : ["https:"],
  });
  return remoteAccessTokenKeys(url, trustBundleFromEnv(env));
}

/**
 * Plain http:/ws: URLs only with FAME_DEV_INSECURE_HTTP=1: nodes send their CSR and CA grant,
 * and attach with their ticket, to the URLs Welcome hands out; the JWKS decides whose tokens count.
 */
function devInsecure(env: NodeJS.ProcessEnv): boolean {
  return readBool(env["FAME_DEV_INSECURE_HTTP"], "FAME_DEV_INSECURE_HTTP", false);
}

function ttl(env: NodeJS.ProcessEnv, name: string): number {
  return readInt(env[name], name, { fallback: DEFAULT_TICKET_TTL_SEC, min: 10, max: MAX_TICKET_TTL_SEC });
}

/** Comma list; `none` means an empty list (an empty value means "use the default"). */
function listSetting(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: string,
  valid: (s: string) => boolean,
  what: string,
): string[] {
  const raw = readString(env[name], name, fallback).trim();
  if (raw === "none") return [];
  const items = raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = items.find((s) => !valid(s));
  if (bad !== undefined)
    throw new ConfigError(name, `"${bad}" is not valid; expected comma-separated ${what}`);
  return items;
}
