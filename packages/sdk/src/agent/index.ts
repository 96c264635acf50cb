export { SESSION_END_META, SESSION_ID_META } from "@fame/protocol";
export type { CallContext, CallerIdentity } from "../rpc/call-context.js";
export { type AgentSettings, DEFAULT_MAX_INFLIGHT } from "../rpc/dispatcher.js";
export { BaseAgent, type ServeOptions } from "./base-agent.js";
export { type DescribeOptions, describeAgent } from "./describe-agent.js";
export {
  defineOperation,
  type OperationOptions,
  type OperationSpec,
  operation,
  operationsOf,
} from "./operation.js";
export {
  Agent,
  type OperationKeys,
  type Remote,
  type RemoteAgent,
  type RemoteCallOptions,
  type RemoteMethod,
  type RemoteOptions,
  type RemoteResult,
  type UntypedRemoteAgent,
} from "./remote-proxy.js";
