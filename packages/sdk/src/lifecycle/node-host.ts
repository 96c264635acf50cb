/**
 * Which connected node an RPC endpoint belongs to, so `agent.serve()` (which sees only the
 * endpoint) can arm the node's drain on signals and tell it that it now serves.
 */
import type { Drainable } from "./signal-drain.js";

export interface NodeHost extends Drainable {
  /** called when an agent starts serving on the node's endpoint */
  serving(): void;
}

const hosts = new WeakMap<object, NodeHost>();

export function registerNodeHost(endpoint: object, host: NodeHost): void {
  hosts.set(endpoint, host);
}

/** The node `endpoint` belongs to; none for endpoints not made by connectFabric (tests, loopback). */
export function nodeHostOf(endpoint: object): NodeHost | undefined {
  return hosts.get(endpoint);
}
