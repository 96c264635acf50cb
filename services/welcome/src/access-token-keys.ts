import { fetchWithTrust } from "@fame/http-service/client";
import type { VerificationKeys } from "@fame/identity";
import { createRemoteJWKSet, customFetch } from "jose";

/**
 * OAuth2's signing keys fetched over HTTPS with the fabric trust bundle
 * (Node's fetch cannot take a private CA). jose caches them and refetches on
 * an unknown kid at most every 30 s, so forged kids cannot hammer OAuth2.
 */
export function remoteAccessTokenKeys(url: URL, trustBundlePem: string | undefined): VerificationKeys {
  return createRemoteJWKSet(url, {
    [customFetch]: fetchWithTrust({ ca: trustBundlePem, timeoutMs: 5000, maxBytes: 64 * 1024 }),
    timeoutDuration: 5000,
    cooldownDuration: 30_000,
    cacheMaxAge: 10 * 60_000,
  });
}
