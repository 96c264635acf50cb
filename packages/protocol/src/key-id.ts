import { sha256 } from "@fame/crypto";
import { base64urlEncode } from "./base64.js";

/**
 * The id of a node's Ed25519 key, derived from the key itself: `ed25519:` and the first 22
 * base64url characters (132 bits) of SHA-256 of the 32 raw public-key bytes. Because the id is
 * a function of the key, nobody can present their own key under another node's id: a
 * sentinel refuses an attach, and a node refuses an announced key, whose kid is not this.
 */
export function ed25519KeyId(publicKey: Uint8Array): string {
  return `ed25519:${base64urlEncode(sha256(publicKey)).slice(0, 22)}`;
}
