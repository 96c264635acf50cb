/** The base class users extend to write agents. */
import { getDefaultEndpoint } from "../rpc/default-endpoint.js";
import { type AgentSettings, configureAgent } from "../rpc/dispatcher.js";
import type { RpcEndpoint } from "../rpc/endpoint.js";
import type { ServeHandle } from "../rpc/rpc-server.js";

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
