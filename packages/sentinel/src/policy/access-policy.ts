import type { NodeSession } from "../node-session.js";

/**
 * Who may serve and who may call what: the sentinel asks this for every AddressBind (serve)
 * and for every request to a logical address (call). Implementations answer from tables built
 * at start-up, in O(1) or over a handful of patterns, without allocating per frame.
 */
export interface AccessPolicy {
  /** may this attached node bind (serve) `address`? */
  mayServe(node: NodeSession, address: string): boolean;
  /** may this attached node send requests (Data, SecureOpen) to the logical `address`? */
  mayCall(node: NodeSession, address: string): boolean;
}

/** Everyone may serve what Welcome granted and call anything: the policy when none is configured. */
export const OPEN_ACCESS: AccessPolicy = Object.freeze({
  mayServe: () => true,
  mayCall: () => true,
});
