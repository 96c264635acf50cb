/** Base classes users extend to write agents, and the static entry point for remote agents. */
import { getDefaultEndpoint } from "../rpc/default-endpoint.js";
import type { RpcEndpoint } from "../rpc/endpoint.js";
import type { ServeHandle } from "../rpc/rpc-server.js";
import { type AgentSettings, configureAgent } from "./dispatcher.js";
import { createRemoteProxy, type Remote, type RemoteOptions } from "./remote-proxy.js";

/**
 * A handle on the agent served at `address`. Without a type argument every property is an
 * untyped operation; `remoteByAddress<MathApi>()` types it after an interface or agent class.
 */
function remoteByAddress<T = unknown>(address: string, options?: RemoteOptions): Remote<T> {
  return createRemoteProxy<T>(address, options);
}

/** Entry point for agents elsewhere on the fabric: `Agent.remoteByAddress("math@fame.fabric")`. */
export const Agent: { readonly remoteByAddress: typeof remoteByAddress } = Object.freeze({ remoteByAddress });

export interface ServeOptions {
  /** Endpoint to serve on; defaults to the installed default endpoint. */
  endpoint?: RpcEndpoint;
}

/** Extend this and mark methods with `@operation()` to write an agent. */
export class BaseAgent {
  constructor(settings: AgentSettings = {}) {
    configureAgent(this, settings);
  }

  /** Serve this agent at `address` on the default (or given) endpoint. */
  async serve(address: string, options: ServeOptions = {}): Promise<ServeHandle> {
    const endpoint = options.endpoint ?? getDefaultEndpoint();
    return endpoint.serveAgent(address, this);
  }
}
