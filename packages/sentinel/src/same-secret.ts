import { createHash, timingSafeEqual } from "node:crypto";

/** Constant-time equality of two secrets: digests first, so unequal lengths take the same time as unequal content. */
export function sameSecret(a: string, b: string): boolean {
  const da = createHash("sha256").update(a).digest();
  const db = createHash("sha256").update(b).digest();
  return timingSafeEqual(da, db);
}
