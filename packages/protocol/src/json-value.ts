/** A value that survives a JSON round trip unchanged (finite numbers, plain objects). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A JSON object: the shape of every JSON-RPC message and of call parameters. */
export type JsonObject = { [key: string]: JsonValue };

/** @deprecated use JsonValue */
export type JSONValue = JsonValue;
