export { type CaError, type CaErrorCode, csrStatus } from "./ca-error.js";
export {
  type CaConfig,
  caConfigFromEnv,
  checkIssuer,
  DEFAULT_CA_PORT,
  DEFAULT_WELCOME_JWKS_URL,
} from "./config.js";
export { GrantUseCounter, type GrantUseVerdict } from "./grant-uses.js";
export { BUNDLE_PATH, buildCaApp, CA_BODY_LIMIT, type CaApp, startCaService } from "./service.js";
export { registerSignRoute, SIGN_PATH, type SignResponse } from "./sign-route.js";
