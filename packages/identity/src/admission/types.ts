import type { Logger } from "@fame/logger";
import type { AccessTokenCache } from "./access-token-cache.js";

export interface AdmitNodeOptions {
  /** OAuth2 token endpoint, e.g. https://localhost:8443/oauth/token */
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  /** Welcome base URL, e.g. https://localhost:8444 */
  welcomeUrl: string;
  /** PEM trust bundle for outbound TLS and for checking the issued chain */
  trustBundlePem?: string;
  instanceId: string;
  requestedLogicals: string[];
  capabilities?: string[];
  /** proposed systemId (renewals); Welcome ignores it unless its policy allows */
  systemId?: string;
  /** per step; default 10 000 */
  timeoutMs?: number;
  /** SPIFFE trust domain of the certificate; default fame.fabric */
  trustDomain?: string;
  logger?: Logger;
  /**
   * Keeps the access token between admissions (one per node): a reattach then skips the
   * OAuth2 step while the token has time left. Without it every admission fetches one.
   */
  tokenCache?: AccessTokenCache;
  /**
   * The node's last admission. When Welcome names the same identity again (systemId, path,
   * sid, logicals) and its certificate is not past half its lifetime, the key and certificate
   * are kept: no new key, CSR or CA round trip, and peers keep the key they vetted. Past
   * half-life a new one is issued, as SPIRE agents rotate theirs.
   */
  previous?: Admission;
  /** milliseconds since the epoch; default Date.now (tests) */
  now?: () => number;
}

/** Everything a node needs to attach: identity, ticket, certificate and its private key. */
export interface Admission {
  systemId: string;
  assignedPath: string;
  sid: string;
  acceptedLogicals: string[];
  /** single-use ticket for the sentinel */
  attachTicket: string;
  /** the sentinel Welcome placed the node on */
  transportUrl: string;
  /** every sentinel the node may attach to, Welcome's preference first (a cluster); else [transportUrl] */
  transportUrls: string[];
  certificatePem: string;
  /** issuing chain as returned by the CA (leaf first when the CA includes it) */
  chainPem: string;
  /** base64 DER, leaf first, no duplicates: ready for a JWS/JWK x5c */
  x5c: string[];
  /** 32-byte Ed25519 private seed; secret */
  seed: Uint8Array;
  /** 32-byte Ed25519 public key the certificate binds */
  publicKey: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  ticketExpiresAt: Date;
}
