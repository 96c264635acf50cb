/** A value that survives a JSON round trip unchanged (finite numbers, plain objects). */
export type JSONValue = null | boolean | number | string | JSONValue[] | { [key: string]: JSONValue };
