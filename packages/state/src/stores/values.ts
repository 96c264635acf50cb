/** Shape checks for values read back from a backend: a bad value is dropped, never trusted. */

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function str(v: unknown, max = 1024): v is string {
  return typeof v === "string" && v.length <= max;
}

export function num(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

export function strList(v: unknown, maxItems: number, maxLen = 1024): v is string[] {
  return Array.isArray(v) && v.length <= maxItems && v.every((s) => str(s, maxLen));
}
