/**
 * An in-memory network of RPC endpoints, for tests and local experiments. Payloads are copied
 * through JSON (as on the real wire) and delivered asynchronously; a message to an address
 * nobody holds is answered like the sentinel would: `failCall(..., "no_route")`.
 */
import { RpcEndpoint, type RpcEndpointOptions } from "./endpoint.js";
import { FameRpcCode } from "./rpc-error.js";
import type { JsonValue, RpcOutbound } from "./transport.js";

export interface LoopbackMessage {
  from: string;
  to: string;
  corrId: string;
  payload: JsonValue;
  meta?: Record<string, string>;
}

export interface LoopbackOptions {
  /** How deliveries are deferred (default queueMicrotask, which fake timers leave running). */
  schedule?: (deliver: () => void) => void;
}

/** Return true to swallow the message (the interceptor then owns what happens next). */
export type LoopbackInterceptor = (message: LoopbackMessage) => boolean | undefined;

export class LoopbackNetwork {
  readonly #routes = new Map<string, RpcEndpoint>();
  readonly #schedule: (deliver: () => void) => void;
  #interceptor: LoopbackInterceptor | undefined;
  readonly #taps = new Set<(message: LoopbackMessage) => void>();

  constructor(options: LoopbackOptions = {}) {
    this.#schedule = options.schedule ?? queueMicrotask;
  }

  /** A new endpoint reachable at `replyAddress` (and at the addresses its agents serve). */
  createEndpoint(replyAddress: string, options?: RpcEndpointOptions): RpcEndpoint {
    if (this.#routes.has(replyAddress)) throw new Error(`address ${replyAddress} is taken`);
    let endpoint: RpcEndpoint | undefined;
    const outbound: RpcOutbound = {
      replyAddress,
      send: async (to, payload, m) => {
        const message: LoopbackMessage = {
          from: replyAddress,
          to,
          corrId: m.corrId,
          payload: JSON.parse(JSON.stringify(payload)) as JsonValue,
          ...(m.meta === undefined ? {} : { meta: { ...m.meta } }),
        };
        this.#route(message, endpoint);
      },
      bind: async (address) => {
        const holder = this.#routes.get(address);
        if (holder !== undefined && holder !== endpoint)
          throw new Error(`address ${address} is bound elsewhere`);
        if (endpoint !== undefined) this.#routes.set(address, endpoint);
      },
      unbind: async (address) => {
        if (this.#routes.get(address) === endpoint) this.#routes.delete(address);
      },
    };
    endpoint = new RpcEndpoint(outbound, options);
    this.#routes.set(replyAddress, endpoint);
    return endpoint;
  }

  /** Install (or remove, with undefined) a hook that sees every message before delivery. */
  intercept(interceptor: LoopbackInterceptor | undefined): void {
    this.#interceptor = interceptor;
  }

  /** Observe every message sent; returns a function that stops observing. */
  tap(listener: (message: LoopbackMessage) => void): () => void {
    this.#taps.add(listener);
    return () => this.#taps.delete(listener);
  }

  /** Deliver a message as if it came from the network (for tests of hostile input). */
  inject(message: LoopbackMessage): void {
    const target = this.#routes.get(message.to);
    if (target === undefined) return;
    this.#schedule(() =>
      target.handleIncoming(message.payload, {
        corrId: message.corrId,
        from: message.from,
        to: message.to,
        ...(message.meta === undefined ? {} : { meta: message.meta }),
      }),
    );
  }

  #route(message: LoopbackMessage, sender: RpcEndpoint | undefined): void {
    for (const tap of this.#taps) tap(message);
    if (this.#interceptor?.(message) === true) return;
    if (!this.#routes.has(message.to)) {
      this.#schedule(() =>
        sender?.failCall(message.corrId, FameRpcCode.NO_ROUTE, `no route to ${message.to}`, {
          notExecuted: true,
        }),
      );
      return;
    }
    this.inject(message);
  }
}
