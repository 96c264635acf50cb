export { type HttpServiceOptions, type RunningService, startHttpService } from "./http-service.js";
export {
  fetchWithTrust,
  OutboundError,
  type OutboundOptions,
  type OutboundRequest,
  type RawResponse,
  requestJson,
  requestRaw,
} from "./https-client.js";
export { DEFAULT_CLOSE_TIMEOUT_MS, EXIT, type MainService, runMain } from "./run-main.js";
export { type ServerTls, serverTlsFromEnv, trustBundleFromEnv } from "./tls-settings.js";
