/**
 * The operation table of agent classes: what `@operation()` and `defineOperation()` record and
 * what the RPC server dispatches on.
 *
 * Registrations live in the class's decorator metadata, which inherits along the class chain,
 * so subclasses see their bases' operations and may override them. Node 20 has no
 * `Symbol.metadata`, and compilers only attach metadata when the symbol exists while the class
 * is being defined; importing this module (which every decorated agent does, through the
 * decorator) installs it first.
 */
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { isJsonValue, isPlainObject } from "./json-value.js";
import { isValidMethodName } from "./jsonrpc.js";
import type { JsonObject } from "./transport.js";

(Symbol as { metadata?: symbol }).metadata ??= Symbol.for("Symbol.metadata");
const METADATA_SYMBOL: symbol = (Symbol as { metadata?: symbol }).metadata ?? Symbol.for("Symbol.metadata");

/**
 * Options of `@operation()`. `S` is the params schema (any Standard Schema validator: zod,
 * valibot, arktype…); the method then receives the schema's output.
 */
export interface OperationOptions<S extends StandardSchemaV1 = StandardSchemaV1> {
  /** Wire name; defaults to the method name. */
  name?: string;
  /** The method returns an async iterable whose items are streamed to the caller. */
  streaming?: boolean;
  /** Informational: running the operation twice has the effect of running it once. */
  idempotent?: boolean;
  /** The callee answers `timeout` if a (non-streaming) call has not finished by then. */
  timeoutMs?: number;
  /**
   * Validates the request params before the method runs: invalid params are answered with
   * JSON-RPC -32602 naming the path of each issue, and the method gets the validated output.
   */
  params?: S;
  /**
   * The params' JSON Schema, shown by `rpc.describe` (`fame ops`). Needed only when the
   * validator cannot say it itself (`~standard.jsonSchema`, zod 4 does) or there is no validator.
   */
  paramsJsonSchema?: JsonObject;
  /** One line on what the operation does, shown by `rpc.describe`. */
  description?: string;
}

/** A registered operation, as the dispatcher sees it. */
export interface OperationSpec {
  readonly name: string;
  /** Property holding the method; looked up on the instance at call time, so overrides apply. */
  readonly methodKey: string | symbol;
  readonly streaming: boolean;
  readonly idempotent: boolean;
  readonly timeoutMs: number | undefined;
  readonly params: StandardSchemaV1 | undefined;
  readonly paramsJsonSchema: JsonObject | undefined;
  readonly description: string | undefined;
}

/** Longest `description` accepted: describe answers stay small. */
export const MAX_DESCRIPTION_LENGTH = 1024;

const OPERATIONS = Symbol("fame.operations");
const MAX_TIMER_MS = 2_147_483_647;

/** Operations registered without decorators (for plain JavaScript), per class. */
const defined = new WeakMap<object, Map<string, OperationSpec>>();

/**
 * All operations of a class, by wire name, nearest class first: an operation declared in a
 * subclass replaces a base operation of the same name.
 */
export function operationsOf(cls: unknown): ReadonlyMap<string, OperationSpec> {
  const result = new Map<string, OperationSpec>();
  for (
    let c: unknown = cls;
    typeof c === "function" && c !== Function.prototype;
    c = Object.getPrototypeOf(c)
  ) {
    const sources: (ReadonlyMap<string, OperationSpec> | undefined)[] = [defined.get(c)];
    if (Object.hasOwn(c, METADATA_SYMBOL)) {
      const metadata: unknown = (c as unknown as Record<symbol, unknown>)[METADATA_SYMBOL];
      if (typeof metadata === "object" && metadata !== null && Object.hasOwn(metadata, OPERATIONS)) {
        sources.push((metadata as Record<symbol, Map<string, OperationSpec>>)[OPERATIONS]);
      }
    }
    for (const ops of sources) {
      if (ops === undefined) continue;
      for (const [name, spec] of ops) if (!result.has(name)) result.set(name, spec);
    }
  }
  return result;
}

/** The class's own registry in its metadata (not the inherited one from its base). */
export function ownOperations(metadata: Record<symbol, unknown>): Map<string, OperationSpec> {
  if (!Object.hasOwn(metadata, OPERATIONS)) {
    Object.defineProperty(metadata, OPERATIONS, {
      value: new Map<string, OperationSpec>(),
      enumerable: false,
    });
  }
  return metadata[OPERATIONS] as Map<string, OperationSpec>;
}

export function register(ops: Map<string, OperationSpec>, spec: OperationSpec): void {
  const existing = ops.get(spec.name);
  if (existing !== undefined && existing.methodKey !== spec.methodKey) {
    throw new TypeError(
      `operation name "${spec.name}" is used by both ${String(existing.methodKey)} and ${String(spec.methodKey)}`,
    );
  }
  ops.set(spec.name, spec);
}

export function makeSpec(methodKey: string | symbol, options: OperationOptions): OperationSpec {
  const name = options.name ?? (typeof methodKey === "string" ? methodKey : undefined);
  if (name === undefined) throw new TypeError("@operation() on a symbol-named method needs an explicit name");
  if (!isValidMethodName(name)) throw new TypeError(`operation name "${name}" must be 1..128 characters`);
  if (name.startsWith("rpc."))
    throw new TypeError('operation names starting with "rpc." are reserved by JSON-RPC');
  return Object.freeze({
    name,
    methodKey,
    streaming: options.streaming === true,
    idempotent: options.idempotent === true,
    timeoutMs: options.timeoutMs,
    params: options.params,
    paramsJsonSchema: options.paramsJsonSchema,
    description: options.description,
  });
}

export function checkOptions(options: OperationOptions): OperationOptions {
  if (typeof options !== "object" || options === null)
    throw new TypeError("operation options must be an object");
  const { name, streaming, idempotent, timeoutMs, params, paramsJsonSchema, description } = options;
  if (name !== undefined && typeof name !== "string") throw new TypeError("operation name must be a string");
  if (streaming !== undefined && typeof streaming !== "boolean")
    throw new TypeError("streaming must be a boolean");
  if (idempotent !== undefined && typeof idempotent !== "boolean")
    throw new TypeError("idempotent must be a boolean");
  if (
    timeoutMs !== undefined &&
    (typeof timeoutMs !== "number" ||
      !Number.isFinite(timeoutMs) ||
      timeoutMs <= 0 ||
      timeoutMs > MAX_TIMER_MS)
  ) {
    throw new RangeError(`operation timeoutMs must be a number in (0, ${MAX_TIMER_MS}]`);
  }
  if (params !== undefined && !isStandardSchema(params)) {
    throw new TypeError("operation params must be a Standard Schema validator (zod, valibot, …)");
  }
  if (paramsJsonSchema !== undefined && !(isPlainObject(paramsJsonSchema) && isJsonValue(paramsJsonSchema))) {
    throw new TypeError("paramsJsonSchema must be a JSON Schema object");
  }
  if (
    description !== undefined &&
    (typeof description !== "string" || description.length > MAX_DESCRIPTION_LENGTH)
  ) {
    throw new TypeError(`operation description must be a string of at most ${MAX_DESCRIPTION_LENGTH} chars`);
  }
  return options;
}

function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  if ((typeof value !== "object" && typeof value !== "function") || value === null) return false;
  const props: unknown = (value as { "~standard"?: unknown })["~standard"];
  return (
    typeof props === "object" &&
    props !== null &&
    (props as { version?: unknown }).version === 1 &&
    typeof (props as { validate?: unknown }).validate === "function"
  );
}

/** The operations a class registered without decorators, created on first use. */
export function definedOperations(cls: object): Map<string, OperationSpec> {
  let ops = defined.get(cls);
  if (ops === undefined) {
    ops = new Map();
    defined.set(cls, ops);
  }
  return ops;
}
