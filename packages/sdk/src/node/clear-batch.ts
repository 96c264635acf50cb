import type { JsonValue } from "@fame/protocol";

/** One clear (unsealed) message waiting for the end of the turn. */
export interface ClearMessage {
  readonly corrId: string;
  readonly payload: JsonValue;
  /** more messages of this conversation follow (a stream item) */
  readonly more: boolean;
  /** its JSON size: its text's length, or estimated (jsonUnitsAtMost) */
  readonly units: number;
  /** its JSON text, when the RPC layer made it (SendOptions.json) */
  readonly json: string | undefined;
}

/**
 * A clear message estimated above this many UTF-16 code units travels alone: batching saves
 * per-envelope work, which a large payload dwarfs, and a lone message never needs splitting.
 */
export const LONE_CLEAR_UNITS = 16 * 1024;

/**
 * About how long `value`'s JSON text is, counting no further than just past `cap`. Escapes
 * are not counted (an estimate for the coalescer's bound; the frame limit, checked when the
 * envelope is encoded, is the real one). Walks with its own stack, and stops as soon as the
 * count passes `cap`, so a large payload costs little to classify.
 */
export function jsonUnitsAtMost(value: JsonValue, cap: number): number {
  let units = 0;
  const stack: JsonValue[] = [value];
  while (stack.length > 0) {
    const v = stack.pop()!;
    if (typeof v === "string") units += v.length + 2;
    else if (typeof v === "number") units += 8;
    else if (typeof v === "boolean" || v === null) units += 5;
    else if (Array.isArray(v)) {
      units += 1 + v.length;
      if (units > cap) return units;
      for (let i = 0; i < v.length; i++) stack.push(v[i]!);
    } else {
      units += 1;
      for (const key in v) {
        units += key.length + 4;
        if (units > cap) return units;
        stack.push(v[key]!);
      }
    }
    if (units > cap) return units;
  }
  return units;
}
