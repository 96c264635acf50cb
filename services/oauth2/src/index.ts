export { CLIENT_CREDENTIALS, ClientRegistry, loadClientsFile, type OAuth2ClientConfig } from "./clients.js";
export { DEFAULT_OAUTH2_PORT, type OAuth2Config, oauth2ConfigFromEnv } from "./config.js";
export { JWKS_PATH } from "./discovery.js";
export { FailedAuthLimiter, type FailedAuthLimiterOptions } from "./failed-auth-limiter.js";
export { OAuthError, type OAuthErrorCode } from "./oauth-error.js";
export { startOAuth2Service } from "./service.js";
export { TOKEN_PATH } from "./token-endpoint.js";
