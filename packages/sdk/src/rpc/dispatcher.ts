/**
 * Per-agent dispatch state: the operation table (resolved once per agent) and the count of
 * calls in flight, which bounds how much work callers can pile onto one agent.
 */
import { CallerSlots } from "./caller-slots.js";
import { type OperationSpec, operationsOf } from "./operation-registry.js";
import type { JsonObject } from "./transport.js";

export const DEFAULT_MAX_INFLIGHT = 256;
/**
 * Calls from the node's own sentinel (its health probes) run in slots of their own, outside
 * `maxInflight` and the callers' shares: callers filling every slot is load, and must not read
 * as a replica that cannot serve (which would move a single-active pool's role, or empty it).
 */
export const SENTINEL_SLOTS = 4;

export interface AgentSettings {
  /** Calls (including open streams) one agent instance runs at once; more get `too_many_inflight`. */
  maxInflight?: number;
}

/** Who holds a call slot: the calling process (its verified sid) and, if its certificate names one, its principal. */
export interface SlotHolder {
  readonly sid: string;
  readonly principal?: string | undefined;
}

/** The most slots one process, and all processes of one principal together, may hold. */
export interface SlotLimits {
  readonly perCaller: number;
  readonly perPrincipal: number;
}

const settings = new WeakMap<object, Required<AgentSettings>>();
const dispatchers = new WeakMap<object, AgentDispatcher>();

/** Record settings for an agent instance (called by the BaseAgent constructor). */
export function configureAgent(agent: object, options: AgentSettings): void {
  const maxInflight = options.maxInflight ?? DEFAULT_MAX_INFLIGHT;
  if (!Number.isSafeInteger(maxInflight) || maxInflight < 1) {
    throw new RangeError("maxInflight must be a positive integer");
  }
  settings.set(agent, { maxInflight });
}

export class AgentDispatcher {
  readonly agent: object;
  readonly maxInflight: number;
  readonly #operations: ReadonlyMap<string, OperationSpec>;
  #inflight = 0;
  #sentinelInflight = 0;
  #description: JsonObject | undefined;
  /** each caller's part of #inflight */
  readonly #byCaller = new CallerSlots();
  /**
   * each principal's part of #inflight: several processes admitted with one credential share
   * one share, so a credential holder cannot take every slot by starting more processes
   */
  readonly #byPrincipal = new CallerSlots();

  constructor(agent: object) {
    this.agent = agent;
    this.maxInflight = settings.get(agent)?.maxInflight ?? DEFAULT_MAX_INFLIGHT;
    this.#operations = operationsOf(agent.constructor);
  }

  get inflight(): number {
    return this.#inflight;
  }

  /** The operation served under `name`; a Map lookup, so "constructor" or "__proto__" never match. */
  lookup(name: string): OperationSpec | undefined {
    return this.#operations.get(name);
  }

  /** The `rpc.describe` answer, made on first request (the table does not change). */
  description(describe: (ops: Iterable<OperationSpec>) => JsonObject): JsonObject {
    this.#description ??= describe(this.#operations.values());
    return this.#description;
  }

  operationNames(): string[] {
    return [...this.#operations.keys()];
  }

  /** calls `caller` has in flight at this agent */
  inflightOf(caller: string): number {
    return this.#byCaller.heldBy(caller);
  }

  /**
   * Takes a call slot for `holder`: "agent" when every slot is taken, "caller" when the
   * process already holds its share, "principal" when its principal's processes together do,
   * undefined when the slot is taken.
   */
  tryAcquire(
    holder: SlotHolder,
    limits: SlotLimits,
    fromSentinel = false,
  ): "agent" | "caller" | "principal" | undefined {
    if (fromSentinel) {
      if (this.#sentinelInflight >= SENTINEL_SLOTS) return "agent";
      this.#sentinelInflight++;
      return undefined;
    }
    if (this.#inflight >= this.maxInflight) return "agent";
    const principal = holder.principal;
    if (principal !== undefined && this.#byPrincipal.heldBy(principal) >= limits.perPrincipal)
      return "principal";
    if (!this.#byCaller.tryTake(holder.sid, limits.perCaller)) return "caller";
    if (principal !== undefined) this.#byPrincipal.take(principal);
    this.#inflight++;
    return undefined;
  }

  /** gives back a slot taken by tryAcquire with the same holder */
  release(holder: SlotHolder, fromSentinel = false): void {
    if (fromSentinel) {
      if (this.#sentinelInflight > 0) this.#sentinelInflight--;
      return;
    }
    if (this.#inflight > 0) this.#inflight--;
    this.#byCaller.give(holder.sid);
    if (holder.principal !== undefined) this.#byPrincipal.give(holder.principal);
  }

  /** Call the method the spec names on the agent; may throw synchronously. */
  invoke(spec: OperationSpec, params: unknown, context: unknown): unknown {
    const method: unknown = (this.agent as Record<string | symbol, unknown>)[spec.methodKey];
    if (typeof method !== "function") throw new TypeError(`operation ${spec.name} has no method`);
    return method.call(this.agent, params, context);
  }
}

/** One dispatcher per agent instance, shared by every address the agent is served at. */
export function dispatcherFor(agent: object): AgentDispatcher {
  let d = dispatchers.get(agent);
  if (d === undefined) {
    d = new AgentDispatcher(agent);
    dispatchers.set(agent, d);
  }
  return d;
}
