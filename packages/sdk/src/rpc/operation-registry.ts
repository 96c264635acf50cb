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
import { isValidMethodName } from "./jsonrpc.js";

(Symbol as { metadata?: symbol }).metadata ??= Symbol.for("Symbol.metadata");
const METADATA_SYMBOL: symbol = (Symbol as { metadata?: symbol }).metadata ?? Symbol.for("Symbol.metadata");

export interface OperationOptions {
  /** Wire name; defaults to the method name. */
  name?: string;
  /** The method returns an async iterable whose items are streamed to the caller. */
  streaming?: boolean;
  /** Informational: running the operation twice has the effect of running it once. */
  idempotent?: boolean;
  /** The callee answers `timeout` if a (non-streaming) call has not finished by then. */
  timeoutMs?: number;
}

/** A registered operation, as the dispatcher sees it. */
export interface OperationSpec {
  readonly name: string;
  /** Property holding the method; looked up on the instance at call time, so overrides apply. */
  readonly methodKey: string | symbol;
  readonly streaming: boolean;
  readonly idempotent: boolean;
  readonly timeoutMs: number | undefined;
}

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
  });
}

export function checkOptions(options: OperationOptions): OperationOptions {
  if (typeof options !== "object" || options === null)
    throw new TypeError("operation options must be an object");
  const { name, streaming, idempotent, timeoutMs } = options;
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
  return options;
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
