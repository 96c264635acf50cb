export { Agent, BaseAgent, type ServeOptions } from "./base-agent.js";
export type { CallContext } from "./call-context.js";
export { type AgentSettings, DEFAULT_MAX_INFLIGHT } from "./dispatcher.js";
export {
  defineOperation,
  type OperationOptions,
  type OperationSpec,
  operation,
  operationsOf,
} from "./operation.js";
export type {
  OperationKeys,
  Remote,
  RemoteAgent,
  RemoteCallOptions,
  RemoteMethod,
  RemoteOptions,
  RemoteResult,
  UntypedRemoteAgent,
} from "./remote-proxy.js";
export { SESSION_END_META, SESSION_ID_META } from "./remote-proxy.js";
