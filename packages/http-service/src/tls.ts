import { ConfigError, readBool, readSettingFile } from "@fame/config";

export interface ServerTls {
  cert: string;
  key: string;
}

/**
 * Server TLS material from FAME_TLS_CERT / FAME_TLS_KEY (PEM files; default
 * server.pem / server.key in FAME_CERTS_DIR, itself default certs/). Plain
 * HTTP is refused unless FAME_DEV_INSECURE_HTTP=1 says so out loud: then null.
 */
export function serverTlsFromEnv(env: NodeJS.ProcessEnv = process.env): ServerTls | null {
  if (readBool(env["FAME_DEV_INSECURE_HTTP"], "FAME_DEV_INSECURE_HTTP", false)) return null;
  // the dev PKI's server certificate lives in FAME_CERTS_DIR, like every other generated file
  const certsDir = env["FAME_CERTS_DIR"] || "certs";
  const certFile = env["FAME_TLS_CERT"] || `${certsDir}/server.pem`;
  const keyFile = env["FAME_TLS_KEY"] || `${certsDir}/server.key`;
  return { cert: readPem(certFile, "FAME_TLS_CERT"), key: readPem(keyFile, "FAME_TLS_KEY") };
}

/** Trust bundle for outbound TLS (FAME_CA_CERTS); undefined means the system roots. */
export function trustBundleFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const file = env["FAME_CA_CERTS"];
  if (!file) return undefined;
  return readPem(file, "FAME_CA_CERTS");
}

function readPem(file: string, setting: string): string {
  const text = readSettingFile(file, setting);
  if (!text.includes("-----BEGIN ")) throw new ConfigError(setting, `${file} is not PEM`);
  return text;
}
