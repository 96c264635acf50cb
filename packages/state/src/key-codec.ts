/**
 * KV keys allow only `[-/_=.A-Za-z0-9]` with `.` separating tokens, while sids, cids, pool
 * addresses and ticket ids may hold anything. Each part is stored as base64url of its UTF-8
 * bytes (always a valid token), and compound keys join parts with `.`.
 */

/** longest part accepted, in UTF-8 bytes: keys are subjects, and subjects stay small */
export const MAX_KEY_PART_BYTES = 512;

export function encodeKeyPart(part: string): string {
  if (part.length === 0) throw new TypeError("state key part must not be empty");
  const bytes = Buffer.from(part, "utf8");
  if (bytes.length > MAX_KEY_PART_BYTES) {
    throw new RangeError(`state key part longer than ${MAX_KEY_PART_BYTES} bytes`);
  }
  return bytes.toString("base64url");
}

const TOKEN = /^[A-Za-z0-9_-]+$/;

/** undefined when `token` is not something encodeKeyPart produces */
export function decodeKeyPart(token: string): string | undefined {
  if (!TOKEN.test(token) || token.length > Math.ceil((MAX_KEY_PART_BYTES * 4) / 3)) return undefined;
  const part = Buffer.from(token, "base64url").toString("utf8");
  // round trip: refuses non-canonical base64 and bytes that are not UTF-8
  return part.length > 0 && Buffer.from(part, "utf8").toString("base64url") === token ? part : undefined;
}

export function encodeKey(parts: readonly string[]): string {
  return parts.map(encodeKeyPart).join(".");
}

export function decodeKey(key: string, count: number): string[] | undefined {
  const tokens = key.split(".");
  if (tokens.length !== count) return undefined;
  const parts: string[] = [];
  for (const t of tokens) {
    const p = decodeKeyPart(t);
    if (p === undefined) return undefined;
    parts.push(p);
  }
  return parts;
}
