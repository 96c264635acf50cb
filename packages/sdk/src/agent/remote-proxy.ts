/**
 * `Agent.remoteByAddress()` — a Proxy whose every property is a function calling the operation
 * of that name at the remote address.
 */
import { SESSION_END_META, SESSION_ID_META } from "@fame/protocol";
import { getDefaultEndpoint } from "../rpc/default-endpoint.js";
import type { RpcEndpoint } from "../rpc/endpoint.js";
import { type RetryPolicy, resolveRetryPolicy } from "../rpc/retry-policy.js";
import type { CallOptions, RpcResult } from "../rpc/rpc-client.js";
import type { BaseAgent } from "./base-agent.js";

/** Options for one remote agent handle. */
export interface RemoteOptions {
  /** Endpoint to call through; defaults to the one installed with `setDefaultEndpoint`, looked up per call. */
  endpoint?: RpcEndpoint;
  /** Per-attempt timeout (default: the endpoint's, 30 s). */
  timeoutMs?: number;
  /** Per-operation timeouts, overriding `timeoutMs`. */
  operationTimeoutMs?: Readonly<Record<string, number>>;
  /** Retry policy overrides, or false to never resend. */
  retry?: Partial<RetryPolicy> | false;
  /**
   * Sent as envelope meta `session-id`: in a sentinel pool with `affinity: session` every call
   * of the session goes to one replica (and, with channel encryption, over its own channel).
   */
  sessionId?: string;
  /** Operations safe to run twice: these are also retried after ambiguous failures. */
  idempotent?: readonly string[];
  /** Credit window offered for streamed answers. */
  streamWindow?: number;
  /** Extra envelope meta sent with every call. */
  meta?: Readonly<Record<string, string>>;
}

/** Per-call options, the optional second argument of every proxy method. */
export interface RemoteCallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /**
   * This is the session's last call (envelope meta `session-end: true`): the sentinel ends the
   * session once the replica has answered, freeing the replica in an exclusive pool.
   * Needs `sessionId` on the handle.
   */
  endSession?: boolean;
}

// --- Types -----------------------------------------------------------------------------------

type AnyMethod = (...args: never[]) => unknown;

/** What a remote call resolves to: streams arrive as async iterables of the yielded type. */
export type RemoteResult<R> = Awaited<R> extends AsyncIterable<infer Y> ? AsyncIterable<Y> : Awaited<R>;

/** A local method signature, as callable through the proxy. */
export type RemoteMethod<F> = F extends (...args: infer A) => infer R
  ? undefined extends A[0]
    ? (params?: A[0], options?: RemoteCallOptions) => Promise<RemoteResult<R>>
    : (params: A[0], options?: RemoteCallOptions) => Promise<RemoteResult<R>>
  : never;

/** Method names of `T` that can be operations (BaseAgent's own members excluded). */
export type OperationKeys<T> = {
  [K in keyof T]-?: K extends string
    ? K extends keyof BaseAgent
      ? never
      : T[K] extends AnyMethod
        ? K
        : never
    : never;
}[keyof T];

/** Typed view of a remote agent described by `T` (an agent class or an interface of wire names). */
export type RemoteAgent<T> = { readonly [K in OperationKeys<T>]: RemoteMethod<T[K]> };

/** Untyped view: any name is an operation, results are JSON values or streams. */
export type UntypedRemoteAgent = {
  readonly [method: string]: (params?: object, options?: RemoteCallOptions) => Promise<RpcResult>;
};

/** `Remote<unknown>` (no type argument) is untyped; otherwise typed after `T`. */
export type Remote<T> = unknown extends T ? UntypedRemoteAgent : RemoteAgent<T>;

// --- Runtime ---------------------------------------------------------------------------------

/**
 * Properties that must not look like operations: `then` (awaiting the proxy would call it),
 * and names that serializers, test matchers and inspectors probe.
 */
const RESERVED = new Set([
  "then",
  "catch",
  "finally",
  "toJSON",
  "constructor",
  "valueOf",
  "inspect",
  "asymmetricMatch",
  "nodeType",
  "$$typeof",
  "__proto__",
]);

/** Bound on cached method wrappers, in case names are generated dynamically. */
const MAX_CACHED_METHODS = 256;

/**
 * A handle on the agent served at `address`. Without a type argument every property is an
 * untyped operation; `remoteByAddress<MathApi>()` types it after an interface or agent class.
 */
function remoteByAddress<T = unknown>(address: string, options?: RemoteOptions): Remote<T> {
  return createRemoteProxy<T>(address, options);
}

/** Entry point for agents elsewhere on the fabric: `Agent.remoteByAddress("math@fame.fabric")`. */
export const Agent: { readonly remoteByAddress: typeof remoteByAddress } = Object.freeze({ remoteByAddress });

export function createRemoteProxy<T>(address: string, options: RemoteOptions = {}): Remote<T> {
  if (typeof address !== "string" || address.length === 0)
    throw new TypeError("address must be a non-empty string");
  // Validate eagerly so configuration mistakes surface where the handle is made.
  if (options.retry !== undefined && options.retry !== false) resolveRetryPolicy(options.retry);
  const idempotent = new Set(checkStrings(options.idempotent ?? [], "idempotent"));
  const meta: Record<string, string> = { ...(options.meta ?? {}) };
  for (const [k, v] of Object.entries(meta)) {
    if (typeof v !== "string") throw new TypeError(`meta.${k} must be a string`);
  }
  if (options.sessionId !== undefined) {
    if (typeof options.sessionId !== "string" || options.sessionId.length === 0) {
      throw new TypeError("sessionId must be a non-empty string");
    }
    meta[SESSION_ID_META] = options.sessionId;
  }
  const hasMeta = Object.keys(meta).length > 0;

  const invoke = (
    method: string,
    params: unknown,
    callOptions: RemoteCallOptions | undefined,
  ): Promise<RpcResult> => {
    let endpoint: RpcEndpoint;
    try {
      endpoint = options.endpoint ?? getDefaultEndpoint();
    } catch (err) {
      return Promise.reject(err);
    }
    if (callOptions?.endSession === true && options.sessionId === undefined) {
      return Promise.reject(new TypeError("endSession needs a handle made with a sessionId"));
    }
    const callMeta = callOptions?.endSession === true ? { ...meta, [SESSION_END_META]: "true" } : meta;
    const timeoutMs = callOptions?.timeoutMs ?? options.operationTimeoutMs?.[method] ?? options.timeoutMs;
    // built member by member: no spread (and its throwaway object) per optional member
    const call: CallOptions = { idempotent: idempotent.has(method) };
    if (timeoutMs !== undefined) call.timeoutMs = timeoutMs;
    if (options.retry !== undefined) call.retry = options.retry;
    if (options.streamWindow !== undefined) call.streamWindow = options.streamWindow;
    if (callOptions?.signal !== undefined) call.signal = callOptions.signal;
    if (hasMeta || callMeta !== meta) call.meta = callMeta;
    return endpoint.client.call(address, method, params, call);
  };

  const cache = new Map<string, (params?: unknown, callOptions?: RemoteCallOptions) => Promise<RpcResult>>();
  const handler: ProxyHandler<object> = {
    get(_target, prop) {
      if (typeof prop === "symbol") return undefined;
      if (prop === "toString") return () => `[RemoteAgent ${address}]`;
      if (RESERVED.has(prop)) return undefined;
      let fn = cache.get(prop);
      if (fn === undefined) {
        fn = (params?: unknown, callOptions?: RemoteCallOptions) => invoke(prop, params, callOptions);
        if (cache.size < MAX_CACHED_METHODS) cache.set(prop, fn);
      }
      return fn;
    },
    set() {
      return false;
    },
    defineProperty() {
      return false;
    },
  };
  return new Proxy(Object.create(null), handler) as Remote<T>;
}

function checkStrings(values: readonly string[], name: string): readonly string[] {
  if (!Array.isArray(values) || !values.every((v) => typeof v === "string")) {
    throw new TypeError(`${name} must be an array of operation names`);
  }
  return values;
}
