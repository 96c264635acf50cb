/** Asking an agent what it serves (`rpc.describe`), as `fame ops` does. */
import { getDefaultEndpoint } from "../rpc/default-endpoint.js";
import { type AgentDescription, DESCRIBE_METHOD, parseAgentDescription } from "../rpc/describe.js";
import type { RpcEndpoint } from "../rpc/endpoint.js";
import type { CallOptions } from "../rpc/rpc-client.js";

export interface DescribeOptions {
  /** Endpoint to call through; defaults to the installed default endpoint. */
  endpoint?: RpcEndpoint;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * The operations served at `address`: names, streaming or not, idempotent or not, the JSON
 * Schema of their params when they declare one. The answer is checked before it is returned
 * (it comes from another node); a malformed one rejects with a TypeError.
 */
export async function describeAgent(
  address: string,
  options: DescribeOptions = {},
): Promise<AgentDescription> {
  const endpoint = options.endpoint ?? getDefaultEndpoint();
  const call: CallOptions = { idempotent: true };
  if (options.timeoutMs !== undefined) call.timeoutMs = options.timeoutMs;
  if (options.signal !== undefined) call.signal = options.signal;
  return parseAgentDescription(await endpoint.client.call(address, DESCRIBE_METHOD, {}, call));
}
