/** `@operation()` — marks agent methods callable over RPC (TC39 standard decorators). */
import type { StandardSchemaV1 } from "@standard-schema/spec";
import type { CallContext } from "../rpc/call-context.js";
import {
  checkOptions,
  definedOperations,
  makeSpec,
  type OperationOptions,
  ownOperations,
  register,
} from "../rpc/operation-registry.js";

export { type OperationOptions, type OperationSpec, operationsOf } from "../rpc/operation-registry.js";

/**
 * What a method may look like under `@operation({ params })`: its first parameter must accept
 * what the schema outputs. Without a schema the params are whatever the caller sent.
 */
type OperationMethod<This, S extends StandardSchemaV1> = [S] extends [never]
  ? unknown
  : (this: This, params: StandardSchemaV1.InferOutput<S>, ctx: CallContext) => unknown;

/**
 * Decorate an agent method as an RPC operation. The method receives the request params
 * (an object, `{}` when absent; with `params: schema`, the schema's validated output) and a
 * `CallContext`.
 */
export function operation<S extends StandardSchemaV1 = never>(options: OperationOptions<S> = {}) {
  const checked = checkOptions(options);
  return <This, M extends OperationMethod<This, S>>(
    _method: M,
    context: ClassMethodDecoratorContext<This>,
  ): void => {
    if (context.kind !== "method") throw new TypeError("@operation() applies to methods only");
    if (context.static) throw new TypeError("@operation() cannot decorate a static method");
    if (context.private) throw new TypeError("@operation() cannot decorate a private method");
    const metadata: unknown = context.metadata;
    if (typeof metadata !== "object" || metadata === null) {
      throw new TypeError(
        "@operation() needs decorator metadata: compile with TypeScript >= 5.2 (standard decorators) and import @fame/sdk before defining agents",
      );
    }
    register(ownOperations(metadata as Record<symbol, unknown>), makeSpec(context.name, checked));
  };
}

/** Register an operation without decorator syntax: `defineOperation(MathAgent, "add")`. */
export function defineOperation<S extends StandardSchemaV1 = never>(
  cls: abstract new (...args: never[]) => object,
  methodKey: string,
  options: OperationOptions<S> = {},
): void {
  if (typeof cls !== "function") throw new TypeError("defineOperation needs a class");
  if (typeof cls.prototype[methodKey as keyof object] !== "function") {
    throw new TypeError(`defineOperation: ${cls.name}.prototype.${methodKey} is not a method`);
  }
  register(definedOperations(cls), makeSpec(methodKey, checkOptions(options)));
}
