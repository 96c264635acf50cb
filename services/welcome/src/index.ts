export { remoteAccessTokenKeys } from "./access-token-keys.js";
export { ClusterPlacement, NoLiveSentinelError } from "./cluster-placement.js";
export {
  CA_SIGN_PATH,
  DEFAULT_CA_SERVICE_URL,
  DEFAULT_TRANSPORT_URL,
  DEFAULT_WELCOME_PORT,
  type WelcomeCluster,
  type WelcomeConfig,
  welcomeConfigFromEnv,
} from "./config.js";
export { type HelloRequest, HelloShapeError, parseHelloRequest } from "./hello-request.js";
export { HELLO_PATH, type HelloResponse } from "./hello-route.js";
export { type LogicalDecision, LogicalPolicy, type LogicalPolicyConfig } from "./logical-policy.js";
export { loadNodeIdKey, STABLE_SYSTEM_ID_LENGTH, stableSystemId } from "./node-id.js";
export {
  type Placement,
  type PlacementRequest,
  type PlacementStrategy,
  StaticSentinelPlacement,
} from "./placement.js";
export { startWelcomeService } from "./service.js";
