import { ConfigError, readBool, readInt, readOptionalString, readUrl } from "@fame/config";
import { trustBundleFromEnv } from "@fame/http-service/tls";
import { isClientId } from "../tokens/identifiers.js";
import type { AdmitNodeOptions } from "./types.js";

export const DEFAULT_TOKEN_URL = "https://localhost:8443/oauth/token";
export const DEFAULT_WELCOME_URL = "https://localhost:8444";

export type AdmissionEnvOptions = Pick<
  AdmitNodeOptions,
  "tokenUrl" | "clientId" | "clientSecret" | "welcomeUrl"
> & {
  trustBundlePem?: string;
  timeoutMs?: number;
};

/**
 * The connection half of admitNode's options from the environment:
 * FAME_ADMISSION_TOKEN_URL, FAME_ADMISSION_CLIENT_ID, FAME_ADMISSION_CLIENT_SECRET,
 * FAME_ADMISSION_SERVICE_URL, FAME_CA_CERTS, FAME_ADMISSION_TIMEOUT_MS; the URLs must be https:
 * unless FAME_DEV_INSECURE_HTTP=1.
 * Bad or missing values throw ConfigError naming the variable.
 */
export function admissionOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): AdmissionEnvOptions {
  // The client secret travels to these URLs: plain HTTP only when the dev flag says so out loud.
  const insecure = readBool(env["FAME_DEV_INSECURE_HTTP"], "FAME_DEV_INSECURE_HTTP", false);
  const protocols = insecure ? ["https:", "http:"] : ["https:"];
  const tokenUrl = readUrl(env["FAME_ADMISSION_TOKEN_URL"], "FAME_ADMISSION_TOKEN_URL", {
    fallback: DEFAULT_TOKEN_URL,
    protocols,
  });
  const welcomeUrl = readUrl(env["FAME_ADMISSION_SERVICE_URL"], "FAME_ADMISSION_SERVICE_URL", {
    fallback: DEFAULT_WELCOME_URL,
    protocols,
  });
  const clientId = readOptionalString(env["FAME_ADMISSION_CLIENT_ID"], "FAME_ADMISSION_CLIENT_ID");
  if (clientId === undefined) throw new ConfigError("FAME_ADMISSION_CLIENT_ID", "is required");
  if (!isClientId(clientId)) {
    throw new ConfigError("FAME_ADMISSION_CLIENT_ID", "must match [A-Za-z0-9_.:@-]{1,128}");
  }
  const clientSecret = readOptionalString(
    env["FAME_ADMISSION_CLIENT_SECRET"],
    "FAME_ADMISSION_CLIENT_SECRET",
  );
  if (clientSecret === undefined) throw new ConfigError("FAME_ADMISSION_CLIENT_SECRET", "is required");
  const trustBundlePem = trustBundleFromEnv(env);
  const timeoutMs = readInt(env["FAME_ADMISSION_TIMEOUT_MS"], "FAME_ADMISSION_TIMEOUT_MS", {
    fallback: 10_000,
    min: 100,
    max: 120_000,
  });
  return {
    tokenUrl: tokenUrl.href,
    welcomeUrl: welcomeUrl.href,
    clientId,
    clientSecret,
    timeoutMs,
    ...(trustBundlePem !== undefined ? { trustBundlePem } : {}),
  };
}
