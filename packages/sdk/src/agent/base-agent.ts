/** The base class users extend to write agents. */
import { nodeHostOf } from "../lifecycle/node-host.js";
import { drainOnSignals } from "../lifecycle/signal-drain.js";
import type { CallHooks } from "../rpc/call-hooks.js";
import { getDefaultEndpoint } from "../rpc/default-endpoint.js";
import { type AgentSettings, configureAgent } from "../rpc/dispatcher.js";
import type { RpcEndpoint } from "../rpc/endpoint.js";
import type { ServeHandle } from "../rpc/rpc-server.js";

export interface ServeOptions {
  /** Endpoint to serve on; defaults to the installed default endpoint. */
  endpoint?: RpcEndpoint;
  /** Run around every call served at this address (metrics, audit, access decisions). */
  hooks?: CallHooks;
  /**
   * On SIGTERM or SIGINT, drain the node (no new channels, pinned clients served until quiet,
   * bounded by FAME_DRAIN_TIMEOUT_MS), close it and exit 0. Default true; false for hosts that
   * handle signals themselves (they call `fabric.drainAndClose()`). Applies to endpoints made
   * by `connectFabric`; others have no node to drain.
   */
  drainOnSignal?: boolean;
}

/** Extend this and mark methods with `@operation()` to write an agent. */
export class BaseAgent {
  constructor(settings: AgentSettings = {}) {
    configureAgent(this, settings);
  }

  /** Serve this agent at `address` on the default (or given) endpoint. */
  async serve(address: string, options: ServeOptions = {}): Promise<ServeHandle> {
    const endpoint = options.endpoint ?? getDefaultEndpoint();
    const handle = await endpoint.serveAgent(
      address,
      this,
      options.hooks === undefined ? undefined : { hooks: options.hooks },
    );
    const host = nodeHostOf(endpoint);
    if (host !== undefined) {
      host.serving();
      if (options.drainOnSignal !== false) drainOnSignals(host);
    }
    return handle;
  }
}
