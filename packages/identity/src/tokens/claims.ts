/**
 * The three JWT kinds of the fabric's identity flow. Each has its own `typ`
 * header so a token of one kind can never be accepted as another, even when
 * the same key signs two kinds (Welcome signs attach tickets and CA grants).
 */
export const TOKEN_TYPES = {
  accessToken: "at+jwt",
  attachTicket: "fame-attach+jwt",
  caGrant: "fame-ca-grant+jwt",
} as const;

export type TokenKind = keyof typeof TOKEN_TYPES;

/** The only signature algorithm issued or accepted (Ed25519). */
export const TOKEN_ALG = "EdDSA";

export const DEFAULT_OAUTH2_ISSUER = "https://localhost:8443";
export const DEFAULT_WELCOME_ISSUER = "https://localhost:8444";
export const DEFAULT_JWT_AUDIENCE = "fame.fabric";
export const DEFAULT_SENTINEL_AUDIENCE = "fame-sentinel";
export const CA_GRANT_AUDIENCE = "fame-ca";
/** Scope an access token needs to ask Welcome for admission. */
export const NODE_CONNECT_SCOPE = "node.connect";
/** Attach tickets and CA grants are short-lived by design. */
export const MAX_TICKET_TTL_SEC = 300;
export const DEFAULT_TICKET_TTL_SEC = 120;

interface RegisteredClaims {
  iss: string;
  aud: string;
  sub: string;
  jti: string;
  iat: number;
  exp: number;
}

export interface AccessTokenClaims extends RegisteredClaims {
  client_id: string;
  /** space-separated, RFC 6749 §3.3 */
  scope: string;
  /** `scope` split, for callers; not part of the wire claims */
  scopes: string[];
}

/** Who a node is, as Welcome decided it. Carried by attach tickets and CA grants. */
export interface NodeIdentity {
  systemId: string;
  assignedPath: string;
  acceptedLogicals: string[];
  instanceId: string;
  /** the OAuth2 client the node was admitted with: its principal for the access policy */
  clientId?: string;
}

export interface IdentityClaims extends RegisteredClaims {
  system_id: string;
  assigned_path: string;
  /** sidFromPath(assigned_path); checked on verification */
  sid: string;
  accepted_logicals: string[];
  instance_id: string;
  /** the OAuth2 client id Welcome admitted the node with (absent in tickets of older issuers) */
  client_id?: string;
}

export type AttachTicketClaims = IdentityClaims;
export type CaGrantClaims = IdentityClaims;
