export {
  type AccessTokenClaims,
  type AttachTicketClaims,
  CA_GRANT_AUDIENCE,
  type CaGrantClaims,
  DEFAULT_JWT_AUDIENCE,
  DEFAULT_OAUTH2_ISSUER,
  DEFAULT_SENTINEL_AUDIENCE,
  DEFAULT_TICKET_TTL_SEC,
  DEFAULT_WELCOME_ISSUER,
  type IdentityClaims,
  MAX_TICKET_TTL_SEC,
  NODE_CONNECT_SCOPE,
  type NodeIdentity,
  TOKEN_ALG,
  TOKEN_TYPES,
  type TokenKind,
} from "./claims.js";
export { isTokenError, TokenError, type TokenErrorCode } from "./errors.js";
export {
  CAPABILITY_PATTERN,
  CLIENT_ID_PATTERN,
  isAssignedPath,
  isClientId,
  isDnsLogical,
  isGrantLogical,
  isSystemId,
  isTokenId,
  isWildcardPattern,
  LIMITS as TOKEN_LIMITS,
  logicalCoveredBy,
  parseScope,
  SCOPE_TOKEN_PATTERN,
  SYSTEM_ID_PATTERN,
  TOKEN_ID_PATTERN,
} from "./identifiers.js";
export {
  generateSigningKey,
  loadPublicJwksFile,
  loadSigningKeyFile,
  publicJwks,
  type SigningKey,
  signingKeyFromJwk,
} from "./keys.js";
export { ReplayGuard, type ReplayGuardOptions, type ReplayVerdict } from "./replay-guard.js";
export {
  type AccessTokenInput,
  type IdentityTokenInput,
  newJti,
  type SignedToken,
  signAccessToken,
  signAttachTicket,
  signCaGrant,
} from "./sign.js";
export { ExpiringUseCounter, type ExpiringUseCounterOptions, type UseVerdict } from "./use-counter.js";
export {
  type AccessTokenVerifyOptions,
  type VerificationKeys,
  type VerifyOptions,
  verifyAccessToken,
  verifyAttachTicket,
  verifyCaGrant,
} from "./verify.js";
