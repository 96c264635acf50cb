export type { CallHooks, CallOutcome } from "./call-hooks.js";
export {
  getDefaultEndpoint,
  NO_FABRIC_MESSAGE,
  NoFabricError,
  setDefaultEndpoint,
  tryGetDefaultEndpoint,
} from "./default-endpoint.js";
export {
  type AgentDescription,
  DESCRIBE_METHOD,
  type OperationDescription,
  parseAgentDescription,
} from "./describe.js";
export { RpcEndpoint, type RpcEndpointOptions } from "./endpoint.js";
export {
  DEFAULT_STREAM_WINDOW,
  encodeError,
  encodeRequest,
  encodeResult,
  encodeStreamCancel,
  encodeStreamCredit,
  encodeStreamEnd,
  encodeStreamItem,
  fameCodeOf,
  JSONRPC_VERSION,
  MAX_ERROR_MESSAGE_LENGTH,
  MAX_FAME_CODE_LENGTH,
  MAX_ID_LENGTH,
  MAX_METHOD_LENGTH,
  MAX_STREAM_WINDOW,
  parseRpcMessage,
  type RpcErrorObject,
  type RpcId,
  type RpcMessage,
  type RpcParseResult,
} from "./jsonrpc.js";
export { type LoopbackMessage, LoopbackNetwork, type LoopbackOptions } from "./loopback.js";
export {
  backoffCapMs,
  backoffDelayMs,
  DEFAULT_RETRY_POLICY,
  type RetryPolicy,
  RetryPolicyError,
  resolveRetryPolicy,
} from "./retry-policy.js";
export {
  type CallOptions,
  DEFAULT_CALL_TIMEOUT_MS,
  type RetryInfo,
  RpcClient,
  type RpcClientMetrics,
  type RpcClientOptions,
  type RpcDiagnostic,
  type RpcDiagnosticSink,
  type RpcResult,
} from "./rpc-client.js";
export { FameRpcCode, isRpcError, RpcError, RpcErrorCode, type RpcErrorOptions } from "./rpc-error.js";
export type { ServeAgentOptions, ServeHandle } from "./rpc-server.js";
export { isRpcStream, RpcStream } from "./rpc-stream.js";
export type { JsonObject, JsonValue, RpcInbound, RpcMessageMeta, RpcOutbound } from "./transport.js";
