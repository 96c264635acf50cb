export { remoteAccessTokenKeys } from "./access-token-keys.js";
export {
  CA_SIGN_PATH,
  DEFAULT_CA_SERVICE_URL,
  DEFAULT_TRANSPORT_URL,
  DEFAULT_WELCOME_PORT,
  type WelcomeConfig,
  welcomeConfigFromEnv,
} from "./config.js";
export { type HelloRequest, HelloShapeError, parseHelloRequest } from "./hello-request.js";
export { HELLO_PATH, type HelloResponse } from "./hello-route.js";
export { type LogicalDecision, LogicalPolicy, type LogicalPolicyConfig } from "./logical-policy.js";
export {
  newSystemId,
  type Placement,
  type PlacementRequest,
  type PlacementStrategy,
  StaticSentinelPlacement,
} from "./placement.js";
export { startWelcomeService } from "./service.js";
