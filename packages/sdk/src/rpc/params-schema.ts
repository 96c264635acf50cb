/**
 * Request params checked by an operation's Standard Schema validator (`@operation({ params })`),
 * and the JSON Schema `rpc.describe` shows for them.
 */
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { isJsonObject } from "./json-value.js";
import { truncate } from "./jsonrpc.js";
import { FameRpcCode, RpcError, RpcErrorCode } from "./rpc-error.js";
import type { JsonObject } from "./transport.js";

/** Issues named in one -32602 message; the rest are counted. */
const MAX_ISSUES_NAMED = 5;
const MAX_ISSUE_TEXT = 200;
const MAX_MESSAGE = 1024;

/**
 * The validated params from a validator's result (the schema's output, which may differ from
 * its input: defaults, coercions). Throws an `RpcError` -32602 (`invalid_params`) naming each
 * issue's path, e.g. `params.x: expected number`.
 */
export function paramsOutput(result: StandardSchemaV1.Result<unknown>): unknown {
  if (result.issues === undefined) return result.value;
  throw new RpcError(RpcErrorCode.INVALID_PARAMS, describeIssues(result.issues), FameRpcCode.INVALID_PARAMS);
}

/** `invalid params: params.x: expected number; params.y: required (and 2 more)` */
export function describeIssues(issues: readonly StandardSchemaV1.Issue[]): string {
  if (issues.length === 0) return "invalid params";
  const named = issues
    .slice(0, MAX_ISSUES_NAMED)
    .map((issue) => `${pathOf(issue.path)}: ${truncate(String(issue.message), MAX_ISSUE_TEXT)}`);
  const more = issues.length > MAX_ISSUES_NAMED ? ` (and ${issues.length - MAX_ISSUES_NAMED} more)` : "";
  return truncate(`invalid params: ${named.join("; ")}${more}`, MAX_MESSAGE);
}

function pathOf(path: StandardSchemaV1.Issue["path"]): string {
  let out = "params";
  if (path === undefined) return out;
  for (const segment of path) {
    const key = typeof segment === "object" && segment !== null ? segment.key : segment;
    if (typeof key === "number") out += `[${key}]`;
    else if (typeof key === "string" && /^[A-Za-z_$][\w$]*$/.test(key)) out += `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

interface JsonSchemaConverter {
  input(options: { target: string }): unknown;
}

/**
 * The params' JSON Schema: the explicit one, or the validator's own (the Standard JSON Schema
 * interface, `~standard.jsonSchema`). Undefined when neither gives one: a schema that cannot be
 * converted (a zod transform, say) leaves describe without `params` instead of failing it.
 */
export function paramsJsonSchemaOf(
  schema: StandardSchemaV1 | undefined,
  explicit: JsonObject | undefined,
): JsonObject | undefined {
  if (explicit !== undefined) return explicit;
  if (schema === undefined) return undefined;
  try {
    const converter: unknown = (schema["~standard"] as { jsonSchema?: unknown }).jsonSchema;
    if (typeof converter !== "object" || converter === null) return undefined;
    const input = (converter as Partial<JsonSchemaConverter>).input;
    if (typeof input !== "function") return undefined;
    const json: unknown = input.call(converter, { target: "draft-2020-12" });
    return isJsonObject(json) ? json : undefined;
  } catch {
    return undefined;
  }
}
