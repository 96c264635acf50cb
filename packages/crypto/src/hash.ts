import { createHash } from "node:crypto";

/** SHA-256 of `data`. Native on Node; the noble back end has its own. */
export function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}
