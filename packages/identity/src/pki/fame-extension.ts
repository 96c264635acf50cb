import {
  DerError,
  encodeOid,
  encodeSequence,
  encodeTlv,
  readSingle,
  TAG_OCTET_STRING,
  TAG_UTF8_STRING,
} from "./der.js";
import type { RawExtension } from "./extensions.js";
import { isLogicalValue, isPathValue, isSidValue, MAX_LOGICALS } from "./names.js";

/**
 * FAME identity extension: OID 2.25.<UUID 269e1be2-d0a8-4657-8e8d-e07291b14c99 as an integer>
 * (X.667 UUID arc, so no registration is needed and collisions are practically impossible).
 */
export const FAME_EXTENSION_UUID = "269e1be2-d0a8-4657-8e8d-e07291b14c99";
export const FAME_EXTENSION_OID = "2.25.51331612338675646515821909819165592729";

/** The extension value never needs to be large: 64 logicals of 253 chars is ~17 KiB worst case. */
export const MAX_FAME_EXTENSION_BYTES = 20 * 1024;

/** What a certificate binds its key to, besides the SPIFFE ID. */
export interface FameIdentityClaims {
  sid: string;
  path: string;
  logicals: string[];
}

export class FameExtensionError extends Error {
  override readonly name = "FameExtensionError";
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * The JSON text is the canonical serialization of exactly these keys in this order; the reader
 * insists on byte equality with it, which rules out duplicate keys, extra members and padding.
 */
function canonicalJson(claims: FameIdentityClaims): string {
  return JSON.stringify({ sid: claims.sid, path: claims.path, logicals: claims.logicals });
}

function checkClaims(claims: FameIdentityClaims): void {
  if (!isSidValue(claims.sid)) throw new FameExtensionError("sid is not a base62 sid");
  if (!isPathValue(claims.path)) throw new FameExtensionError("path is not a valid physical path");
  if (!Array.isArray(claims.logicals) || claims.logicals.length > MAX_LOGICALS) {
    throw new FameExtensionError(`logicals must be an array of at most ${MAX_LOGICALS} entries`);
  }
  const seen = new Set<string>();
  for (const l of claims.logicals) {
    if (!isLogicalValue(l)) throw new FameExtensionError("logicals holds an invalid logical");
    if (seen.has(l)) throw new FameExtensionError("logicals holds a duplicate");
    seen.add(l);
  }
}

/** DER of the extension value: UTF8String(JSON). */
export function encodeFameExtensionValue(claims: FameIdentityClaims): Uint8Array {
  checkClaims(claims);
  return encodeTlv(TAG_UTF8_STRING, encoder.encode(canonicalJson(claims)));
}

/** Strict reader of the extension value; throws FameExtensionError on anything unexpected. */
export function decodeFameExtensionValue(der: Uint8Array): FameIdentityClaims {
  if (der.length > MAX_FAME_EXTENSION_BYTES) throw new FameExtensionError("extension value too large");
  let text: string;
  try {
    text = decoder.decode(readSingle(der, TAG_UTF8_STRING));
  } catch (err) {
    const why = err instanceof DerError ? err.message : "invalid UTF-8";
    throw new FameExtensionError(`extension value is not a DER UTF8String: ${why}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new FameExtensionError("extension value is not JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new FameExtensionError("extension value is not a JSON object");
  }
  const obj = parsed as Record<string, unknown>;
  const { sid, path, logicals } = obj;
  if (typeof sid !== "string" || typeof path !== "string" || !Array.isArray(logicals)) {
    throw new FameExtensionError("extension value needs sid, path and logicals");
  }
  if (!logicals.every((l): l is string => typeof l === "string")) {
    throw new FameExtensionError("logicals must be strings");
  }
  const claims: FameIdentityClaims = { sid, path, logicals };
  checkClaims(claims);
  if (canonicalJson(claims) !== text) throw new FameExtensionError("extension value is not canonical JSON");
  return claims;
}

const FAME_OID_DER = encodeOid(FAME_EXTENSION_OID);

/** Extension DER: SEQUENCE { extnID, extnValue OCTET STRING } (critical omitted = FALSE, so generic verifiers ignore it). */
export function fameExtensionDer(claims: FameIdentityClaims): Uint8Array {
  return encodeSequence(FAME_OID_DER, encodeTlv(TAG_OCTET_STRING, encodeFameExtensionValue(claims)));
}

/**
 * Claims of the FAME extension among `extensions` (read with extensions.ts); null when absent.
 * Duplicates are already refused by the extension reader.
 */
export function readFameExtension(extensions: readonly RawExtension[]): FameIdentityClaims | null {
  const found = extensions.find((e) => e.oid === FAME_EXTENSION_OID);
  if (!found) return null;
  if (found.critical) throw new FameExtensionError("FAME extension must not be critical");
  return decodeFameExtensionValue(found.value);
}
