/**
 * The endpoint that `agent.serve()` and `Agent.remoteByAddress()` use when none is passed.
 * The connection layer installs it (e.g. inside `withFabric()`); the RPC layer never creates one.
 */
import type { RpcEndpoint } from "./endpoint.js";

export const NO_FABRIC_MESSAGE = "no fabric: call inside withFabric() or connect first";

export class NoFabricError extends Error {
  constructor() {
    super(NO_FABRIC_MESSAGE);
    this.name = "NoFabricError";
  }
}

let current: RpcEndpoint | undefined;

/** Install (or, with undefined, clear) the default endpoint. Returns the previous one for restoring. */
export function setDefaultEndpoint(endpoint: RpcEndpoint | undefined): RpcEndpoint | undefined {
  const previous = current;
  current = endpoint;
  return previous;
}

/** The default endpoint; throws `NoFabricError` when none is installed. */
export function getDefaultEndpoint(): RpcEndpoint {
  if (current === undefined) throw new NoFabricError();
  return current;
}

export function tryGetDefaultEndpoint(): RpcEndpoint | undefined {
  return current;
}
