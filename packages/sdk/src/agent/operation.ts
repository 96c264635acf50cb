/** `@operation()` — marks agent methods callable over RPC (TC39 standard decorators). */
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
 * Decorate an agent method as an RPC operation. The method receives the request params
 * (an object, `{}` when absent) and a `CallContext`.
 */
export function operation(options: OperationOptions = {}) {
  const checked = checkOptions(options);
  return <This>(_method: unknown, context: ClassMethodDecoratorContext<This>): void => {
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
export function defineOperation(
  cls: abstract new (...args: never[]) => object,
  methodKey: string,
  options: OperationOptions = {},
): void {
  if (typeof cls !== "function") throw new TypeError("defineOperation needs a class");
  if (typeof cls.prototype[methodKey as keyof object] !== "function") {
    throw new TypeError(`defineOperation: ${cls.name}.prototype.${methodKey} is not a method`);
  }
  register(definedOperations(cls), makeSpec(methodKey, checkOptions(options)));
}
