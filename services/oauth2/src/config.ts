import { join } from "node:path";
import {
  ConfigError,
  readInt,
  readOptionalString,
  readPort,
  readString,
  readUrl,
  withoutTrailingSlash,
} from "@fame/config";
import { type ConnectionLimits, connectionLimitsFromEnv } from "@fame/http-service/connection-limits";
import { type ServerTls, serverTlsFromEnv } from "@fame/http-service/tls";
import {
  DEFAULT_JWT_AUDIENCE,
  DEFAULT_OAUTH2_ISSUER,
  loadSigningKeyFile,
  type SigningKey,
} from "@fame/identity";
import type { Logger } from "@fame/logger";
import { loadClientsFile, type OAuth2ClientConfig, parseClientEntry } from "./clients.js";

export interface OAuth2Config {
  host: string;
  port: number;
  /** null = plain HTTP (FAME_DEV_INSECURE_HTTP=1 only) */
  tls: ServerTls | null;
  /** deadlines and caps before a connection has made its request (FAME_TLS_HANDSHAKE_TIMEOUT_MS, FAME_HTTP_*_TIMEOUT_MS, FAME_MAX_HANDSHAKES*) */
  connectionLimits?: ConnectionLimits;
  /** `iss` of issued tokens; also the base of the discovery document's URLs */
  issuer: string;
  audience: string;
  tokenTtlSec: number;
  clients: OAuth2ClientConfig[];
  signingKey: SigningKey;
  logger?: Logger;
  /** failed authentications per client id per minute before refusing; default 10 */
  maxFailedAuthPerMinute?: number;
}

export const DEFAULT_OAUTH2_PORT = 8443;

/** Reads every FAME_OAUTH2_* setting; bad values throw ConfigError naming the variable. */
export async function oauth2ConfigFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<OAuth2Config> {
  const certsDir = readString(env["FAME_CERTS_DIR"], "FAME_CERTS_DIR", "certs");
  const issuer = readUrl(env["FAME_OAUTH2_ISSUER"], "FAME_OAUTH2_ISSUER", {
    fallback: DEFAULT_OAUTH2_ISSUER,
    protocols: ["https:", "http:"],
  });
  const keyFile = readString(
    env["FAME_OAUTH2_SIGNING_KEY_FILE"],
    "FAME_OAUTH2_SIGNING_KEY_FILE",
    join(certsDir, "secrets", "oauth2-signing-key.json"),
  );
  return {
    host: readString(env["FAME_OAUTH2_HOST"], "FAME_OAUTH2_HOST", "127.0.0.1"),
    port: readPort(env["FAME_OAUTH2_PORT"], "FAME_OAUTH2_PORT", DEFAULT_OAUTH2_PORT),
    tls: serverTlsFromEnv(env),
    connectionLimits: connectionLimitsFromEnv(env),
    issuer: withoutTrailingSlash(issuer.href),
    audience: readString(env["FAME_JWT_AUDIENCE"], "FAME_JWT_AUDIENCE", DEFAULT_JWT_AUDIENCE),
    tokenTtlSec: readInt(env["FAME_OAUTH2_TOKEN_TTL_SEC"], "FAME_OAUTH2_TOKEN_TTL_SEC", {
      fallback: 3600,
      min: 60,
      max: 86_400,
    }),
    clients: clientsFromEnv(env, certsDir),
    signingKey: await loadSigningKeyFile(keyFile, "FAME_OAUTH2_SIGNING_KEY_FILE"),
    maxFailedAuthPerMinute: readInt(env["FAME_OAUTH2_MAX_FAILED_AUTH"], "FAME_OAUTH2_MAX_FAILED_AUTH", {
      fallback: 10,
      min: 1,
      max: 10_000,
    }),
  };
}

/** A single client from FAME_OAUTH2_CLIENT_ID/SECRET wins over the clients file. */
function clientsFromEnv(env: NodeJS.ProcessEnv, certsDir: string): OAuth2ClientConfig[] {
  const id = readOptionalString(env["FAME_OAUTH2_CLIENT_ID"], "FAME_OAUTH2_CLIENT_ID");
  const secret = readOptionalString(env["FAME_OAUTH2_CLIENT_SECRET"], "FAME_OAUTH2_CLIENT_SECRET");
  if (id !== undefined || secret !== undefined) {
    if (id === undefined)
      throw new ConfigError("FAME_OAUTH2_CLIENT_ID", "is required with FAME_OAUTH2_CLIENT_SECRET");
    if (secret === undefined)
      throw new ConfigError("FAME_OAUTH2_CLIENT_SECRET", "is required with FAME_OAUTH2_CLIENT_ID");
    const scopes = readString(env["FAME_OAUTH2_CLIENT_SCOPES"], "FAME_OAUTH2_CLIENT_SCOPES", "node.connect")
      .split(/[\s,]+/)
      .filter(Boolean);
    const entry = parseClientEntry(
      { client_id: id, client_secret: secret, scopes },
      "FAME_OAUTH2_CLIENT_ID",
      "FAME_OAUTH2_CLIENT_ID/SECRET",
    );
    return [entry];
  }
  const file = readString(
    env["FAME_OAUTH2_CLIENTS_FILE"],
    "FAME_OAUTH2_CLIENTS_FILE",
    join(certsDir, "secrets", "oauth2-clients.json"),
  );
  return loadClientsFile(file, "FAME_OAUTH2_CLIENTS_FILE");
}
