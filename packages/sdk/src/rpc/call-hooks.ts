/**
 * Hooks around every call an agent serves (`agent.serve(address, { hooks })`): metrics,
 * audit, access decisions. Without hooks nothing of this runs and nothing is allocated.
 */
import type { CallContext } from "./call-context.js";
import type { OperationSpec } from "./operation-registry.js";

/** How a served call ended, as the `after` hook sees it. */
export type CallOutcome =
  | { readonly ok: true }
  | {
      readonly ok: false;
      /** the JSON-RPC error code the caller got */
      readonly code: number;
      /** its `data.fame_code`, when there is one */
      readonly fameCode: string | undefined;
      /** what the operation (or its params validation) threw */
      readonly error: unknown;
    };

export interface CallHooks {
  /**
   * Runs before the operation (after params validation); may be async. Throwing (an
   * `RpcError` to choose the answer) refuses the call: the operation does not run.
   */
  before?(ctx: CallContext, op: OperationSpec): void | Promise<void>;
  /**
   * Runs once the call is answered (a stream: once it ended). What it throws is logged and
   * otherwise ignored: the caller already has its answer.
   */
  after?(ctx: CallContext, op: OperationSpec, outcome: CallOutcome, durationMs: number): void;
}

export function checkHooks(hooks: CallHooks | undefined): CallHooks | undefined {
  if (hooks === undefined) return undefined;
  if (typeof hooks !== "object" || hooks === null) throw new TypeError("hooks must be an object");
  for (const key of ["before", "after"] as const) {
    if (hooks[key] !== undefined && typeof hooks[key] !== "function") {
      throw new TypeError(`hooks.${key} must be a function`);
    }
  }
  return hooks.before === undefined && hooks.after === undefined ? undefined : hooks;
}
