import { createHmac } from "node:crypto";
import { ConfigError, readSettingFile } from "@fame/config";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/** 22 base62 characters ≈ 131 bits of the MAC: no two nodes meet by chance */
export const STABLE_SYSTEM_ID_LENGTH = 22;
/** the key is 32 random bytes (HMAC-SHA256's block wants no more); less is refused */
const MIN_KEY_BYTES = 32;

/**
 * A cluster node's systemId: base62(HMAC-SHA256(key, principal ‖ 0x00 ‖ instanceId)), 22
 * characters. The same (principal, instance) always gets the same id, from any Welcome holding
 * the key, so a node that moves to another sentinel keeps its path and sid; without the key
 * nobody can compute another principal's id, and an instanceId cannot hold 0x00, so two
 * different pairs never feed the MAC the same bytes.
 */
export function stableSystemId(key: Uint8Array, principal: string, instanceId: string): string {
  const mac = createHmac("sha256", key).update(principal).update("\u0000").update(instanceId).digest();
  // the MAC as one big number, written in base 62 from its least significant digit
  let n = BigInt(`0x${mac.toString("hex")}`);
  let out = "";
  for (let i = 0; i < STABLE_SYSTEM_ID_LENGTH; i++) {
    out += ALPHABET[Number(n % 62n)];
    n /= 62n;
  }
  return out;
}

/**
 * The node-id key from its file (FAME_WELCOME_NODE_ID_KEY_FILE): base64url of at least 32
 * bytes, as the dev PKI writes it. Errors name the file, never its content.
 */
export function loadNodeIdKey(file: string, setting: string): Uint8Array {
  const text = readSettingFile(file, setting).trim();
  if (!/^[A-Za-z0-9_-]+$/.test(text)) throw new ConfigError(setting, `${file} is not base64url text`);
  const key = Buffer.from(text, "base64url");
  if (key.length < MIN_KEY_BYTES)
    throw new ConfigError(setting, `${file} holds ${key.length} bytes; at least ${MIN_KEY_BYTES} are needed`);
  return new Uint8Array(key);
}
