import { isIP } from "node:net";
import { join } from "node:path";
import {
  ConfigError,
  readBool,
  readInt,
  readPort,
  readSettingFile,
  readString,
  readUrl,
  withoutTrailingSlash,
} from "@fame/config";
import { fetchWithTrust } from "@fame/http-service/client";
import { type ConnectionLimits, connectionLimitsFromEnv } from "@fame/http-service/connection-limits";
import { type ServerTls, serverTlsFromEnv } from "@fame/http-service/tls";
import { workGateFromEnv } from "@fame/http-service/work-gate";
import {
  CertificateError,
  createNodeCsr,
  DEFAULT_TRUST_DOMAIN,
  DEFAULT_WELCOME_ISSUER,
  importPrivateKeyPem,
  isDnsLogical,
  issueNodeCertificate,
  loadPublicJwksFile,
  PkiConfigError,
  type VerificationKeys,
  verifyNodeCertificate,
} from "@fame/identity";
import type { Logger } from "@fame/logger";
import { createLocalJWKSet, createRemoteJWKSet, customFetch } from "jose";

export interface CaConfig {
  host: string;
  port: number;
  /** null = plain HTTP (FAME_DEV_INSECURE_HTTP=1 only) */
  tls: ServerTls | null;
  /** deadlines and caps before a connection has made its request (FAME_TLS_HANDSHAKE_TIMEOUT_MS, FAME_HTTP_*_TIMEOUT_MS, FAME_MAX_HANDSHAKES*) */
  connectionLimits?: ConnectionLimits;
  trustDomain: string;
  issuerCertPem: string;
  /** Non-extractable Ed25519 signing key of the issuing (intermediate) CA. */
  issuerKey: CryptoKey;
  /** Trust anchors served at /bundle and used for outbound TLS to Welcome. */
  trustBundlePem: string;
  defaultTtlSec: number;
  maxTtlSec: number;
  welcome: { issuer: string; keys: VerificationKeys };
  /**
   * Signings in progress at once and waiting their turn (FAME_CA_MAX_SIGNING, FAME_CA_SIGN_QUEUE);
   * beyond both the CA answers 503 with a retry hint. Default 8 and 512.
   */
  signing?: { maxActive: number; maxQueued: number };
  logger?: Logger;
}

type CryptoKey = Awaited<ReturnType<typeof importPrivateKeyPem>>;

export const DEFAULT_CA_PORT = 8445;
/**
 * A signing costs ~10 ms of CA CPU with its TLS handshake (docs/performance.md, Reconnect
 * storm): ~100 per second per process. 512 waiting drain in ~5 s, inside the admission client's
 * 10 s step timeout; a longer queue would only turn refusals into timeouts.
 */
export const DEFAULT_CA_SIGNING = { maxActive: 8, maxQueued: 512 };
export const DEFAULT_WELCOME_JWKS_URL = "https://localhost:8444/.well-known/jwks.json";
const MAX_TTL_CEILING_SEC = 30 * 24 * 3600;

function jwksFromUrl(url: URL, trustBundlePem: string): VerificationKeys {
  return createRemoteJWKSet(url, {
    timeoutDuration: 5000,
    cooldownDuration: 30_000,
    cacheMaxAge: 10 * 60_000,
    // Welcome's TLS certificate chains to the dev root, not to a public CA.
    [customFetch]: fetchWithTrust({ ca: trustBundlePem, maxBytes: 64 * 1024 }),
  });
}

/**
 * Issue and verify a throwaway certificate so a CA whose key, certificate, trust bundle and
 * trust domain do not fit together refuses to start, naming the setting most likely wrong.
 */
export async function checkIssuer(
  c: Pick<CaConfig, "trustDomain" | "issuerCertPem" | "issuerKey" | "trustBundlePem">,
): Promise<void> {
  const probe = { systemId: "ca_self_test", assignedPath: "/ca_self_test", logicals: [] as string[] };
  try {
    const csr = await createNodeCsr({ ...probe, trustDomain: c.trustDomain });
    const issued = await issueNodeCertificate({
      csrPem: csr.csrPem,
      issuerCertPem: c.issuerCertPem,
      issuerKey: c.issuerKey,
      ttlSec: 60,
      trustDomain: c.trustDomain,
      expect: probe,
    });
    await verifyNodeCertificate({
      chain: [issued.certificatePem, c.issuerCertPem],
      trustBundlePem: c.trustBundlePem,
      trustDomain: c.trustDomain,
    });
  } catch (err) {
    if (err instanceof PkiConfigError) throw new ConfigError("FAME_CA_ISSUER_CERT", err.message);
    if (err instanceof CertificateError) {
      const setting =
        err.code === "cert_untrusted"
          ? "FAME_CA_CERTS"
          : err.code === "cert_signature_invalid"
            ? "FAME_CA_ISSUER_KEY"
            : err.code === "cert_name_constraint" || err.code === "cert_spiffe_mismatch"
              ? "FAME_TRUST_DOMAIN"
              : "FAME_CA_ISSUER_CERT";
      throw new ConfigError(setting, `issuer self-test failed (${err.code}): ${err.message}`);
    }
    throw err;
  }
}

export async function caConfigFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<CaConfig> {
  const certsDir = readString(env["FAME_CERTS_DIR"], "FAME_CERTS_DIR", "certs");
  const trustDomain = readString(env["FAME_TRUST_DOMAIN"], "FAME_TRUST_DOMAIN", DEFAULT_TRUST_DOMAIN);
  // The PKI's own rule (labels, length), so a bad domain fails here and not in the self-test.
  if (!isDnsLogical(trustDomain)) {
    throw new ConfigError("FAME_TRUST_DOMAIN", "must be a lowercase DNS name");
  }
  const certFile = readString(
    env["FAME_CA_ISSUER_CERT"],
    "FAME_CA_ISSUER_CERT",
    join(certsDir, "intermediate-ca.pem"),
  );
  const keyFile = readString(
    env["FAME_CA_ISSUER_KEY"],
    "FAME_CA_ISSUER_KEY",
    join(certsDir, "intermediate-ca.key"),
  );
  const bundleFile = readString(env["FAME_CA_CERTS"], "FAME_CA_CERTS", join(certsDir, "trust-bundle.pem"));
  const maxTtlSec = readInt(env["FAME_CA_MAX_TTL_SEC"], "FAME_CA_MAX_TTL_SEC", {
    fallback: 86_400,
    min: 60,
    max: MAX_TTL_CEILING_SEC,
  });
  const defaultTtlSec = readInt(env["FAME_CA_CERT_TTL_SEC"], "FAME_CA_CERT_TTL_SEC", {
    fallback: Math.min(3600, maxTtlSec),
    min: 60,
    max: maxTtlSec,
  });
  const insecure = readBool(env["FAME_DEV_INSECURE_HTTP"], "FAME_DEV_INSECURE_HTTP", false);
  const tls = serverTlsFromEnv({
    ...env,
    FAME_TLS_CERT: env["FAME_TLS_CERT"] || join(certsDir, "server.pem"),
    FAME_TLS_KEY: env["FAME_TLS_KEY"] || join(certsDir, "server.key"),
  });

  const issuerCertPem = readSettingFile(certFile, "FAME_CA_ISSUER_CERT");
  const trustBundlePem = readSettingFile(bundleFile, "FAME_CA_CERTS");
  let issuerKey: CryptoKey;
  try {
    issuerKey = await importPrivateKeyPem(readSettingFile(keyFile, "FAME_CA_ISSUER_KEY"));
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError("FAME_CA_ISSUER_KEY", (err as Error).message);
  }
  if (issuerKey.algorithm.name !== "Ed25519")
    throw new ConfigError("FAME_CA_ISSUER_KEY", "must be an Ed25519 key");

  const welcomeIssuer = withoutTrailingSlash(
    readUrl(env["FAME_WELCOME_ISSUER"], "FAME_WELCOME_ISSUER", { fallback: DEFAULT_WELCOME_ISSUER }).href,
  );
  const jwksFile = env["FAME_WELCOME_JWKS_FILE"];
  let keys: VerificationKeys;
  if (jwksFile) {
    keys = createLocalJWKSet(loadPublicJwksFile(jwksFile, "FAME_WELCOME_JWKS_FILE"));
  } else {
    const url = readUrl(env["FAME_WELCOME_JWKS_URL"], "FAME_WELCOME_JWKS_URL", {
      fallback: DEFAULT_WELCOME_JWKS_URL,
      protocols: insecure ? ["https:", "http:"] : ["https:"],
    });
    keys = jwksFromUrl(url, trustBundlePem);
  }

  const host = readString(env["FAME_CA_HOST"], "FAME_CA_HOST", "127.0.0.1");
  if (!isIP(host) && !/^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(host)) {
    throw new ConfigError("FAME_CA_HOST", `must be an IP address or host name, got "${host}"`);
  }
  return {
    host,
    port: readPort(env["FAME_CA_PORT"], "FAME_CA_PORT", DEFAULT_CA_PORT),
    tls,
    connectionLimits: connectionLimitsFromEnv(env),
    trustDomain,
    issuerCertPem,
    issuerKey,
    trustBundlePem,
    defaultTtlSec,
    maxTtlSec,
    welcome: { issuer: welcomeIssuer, keys },
    signing: workGateFromEnv(
      env,
      { active: "FAME_CA_MAX_SIGNING", queued: "FAME_CA_SIGN_QUEUE" },
      DEFAULT_CA_SIGNING,
    ),
  };
}
