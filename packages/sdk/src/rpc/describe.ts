/**
 * `rpc.describe`: the built-in operation every served agent answers with what it serves
 * (JSON-RPC reserves `rpc.`-prefixed names for such extensions). `fame ops` calls it.
 */

import { DESCRIBE_METHOD } from "./describe-method.js";
import { isJsonObject, isPlainObject } from "./json-value.js";
import { isValidMethodName } from "./jsonrpc.js";
import { MAX_DESCRIPTION_LENGTH, type OperationSpec } from "./operation-registry.js";
import { paramsJsonSchemaOf } from "./params-schema.js";
import type { JsonObject } from "./transport.js";

export { DESCRIBE_METHOD };

/** One operation as `rpc.describe` reports it. */
export interface OperationDescription {
  readonly name: string;
  readonly streaming: boolean;
  readonly idempotent: boolean;
  /** JSON Schema of the params, when the operation has one that converts */
  readonly params?: JsonObject;
  readonly description?: string;
}

/** The answer to `rpc.describe`. */
export interface AgentDescription {
  readonly operations: readonly OperationDescription[];
}

/** The describe answer for an operation table, in name order. */
export function describeOperations(ops: Iterable<OperationSpec>): JsonObject {
  const operations: JsonObject[] = [];
  for (const spec of ops) {
    const op: JsonObject = { name: spec.name, streaming: spec.streaming, idempotent: spec.idempotent };
    const params = paramsJsonSchemaOf(spec.params, spec.paramsJsonSchema);
    if (params !== undefined) op["params"] = params;
    if (spec.description !== undefined) op["description"] = spec.description;
    operations.push(op);
  }
  operations.sort((a, b) => (String(a["name"]) < String(b["name"]) ? -1 : 1));
  return { operations };
}

/** Bound on operations accepted from a describe answer (it comes from another node). */
const MAX_DESCRIBED_OPERATIONS = 4096;

/**
 * Checks a describe answer from the network. Throws a TypeError naming what is wrong; unknown
 * keys are dropped, so a newer agent's additions do not break an older client.
 */
export function parseAgentDescription(value: unknown): AgentDescription {
  if (!isPlainObject(value) || !Array.isArray(value["operations"])) {
    throw new TypeError("rpc.describe answer has no operations list");
  }
  const raw: unknown[] = value["operations"];
  if (raw.length > MAX_DESCRIBED_OPERATIONS)
    throw new TypeError("rpc.describe answer lists too many operations");
  return {
    operations: raw.map((item, i) => {
      if (!isPlainObject(item)) throw new TypeError(`rpc.describe operations[${i}] is not an object`);
      const { name, streaming, idempotent, params, description } = item;
      if (!isValidMethodName(name))
        throw new TypeError(`rpc.describe operations[${i}].name is not a method name`);
      if (typeof streaming !== "boolean" || typeof idempotent !== "boolean") {
        throw new TypeError(`rpc.describe operations[${i}] needs boolean streaming and idempotent`);
      }
      const op: { -readonly [K in keyof OperationDescription]: OperationDescription[K] } = {
        name,
        streaming,
        idempotent,
      };
      if (params !== undefined) {
        if (!isJsonObject(params))
          throw new TypeError(`rpc.describe operations[${i}].params is not an object`);
        op.params = params;
      }
      if (description !== undefined) {
        if (typeof description !== "string" || description.length > MAX_DESCRIPTION_LENGTH) {
          throw new TypeError(`rpc.describe operations[${i}].description is not a short string`);
        }
        op.description = description;
      }
      return op;
    }),
  };
}
