import { isClientId } from "../tokens/identifiers.js";
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
import { FameExtensionError } from "./fame-extension.js";

/**
 * FAME principal extension: the OAuth2 client a node was admitted with, as its CA states it
 * (from the grant, never from the request). OID 2.25.<UUID 59898bf4-360d-412e-a357-694e04984a08
 * as an integer>. An extension of its own rather than a member of the FAME identity extension,
 * whose reader insists on exactly its three members: nodes of an older release ignore a
 * non-critical extension they do not know, so a fabric can renew its CA before its nodes.
 */
export const FAME_PRINCIPAL_EXTENSION_UUID = "59898bf4-360d-412e-a357-694e04984a08";
export const FAME_PRINCIPAL_EXTENSION_OID = "2.25.119015474897811559516384037597655616008";

/** a client id is at most 128 ASCII characters: anything larger is refused before decoding */
const MAX_VALUE_BYTES = 256;
const PRINCIPAL_OID_DER = encodeOid(FAME_PRINCIPAL_EXTENSION_OID);
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Extension DER: SEQUENCE { extnID, extnValue OCTET STRING (UTF8String principal) }, not critical. */
export function principalExtensionDer(principal: string): Uint8Array {
  if (!isClientId(principal)) throw new FameExtensionError("principal is not a client id");
  return encodeSequence(
    PRINCIPAL_OID_DER,
    encodeTlv(TAG_OCTET_STRING, encodeTlv(TAG_UTF8_STRING, encoder.encode(principal))),
  );
}

/** Strict reader of the extension value; throws FameExtensionError on anything unexpected. */
export function decodePrincipalValue(der: Uint8Array): string {
  if (der.length > MAX_VALUE_BYTES) throw new FameExtensionError("principal extension value too large");
  let principal: string;
  try {
    principal = decoder.decode(readSingle(der, TAG_UTF8_STRING));
  } catch (err) {
    const why = err instanceof DerError ? err.message : "invalid UTF-8";
    throw new FameExtensionError(`principal extension value is not a DER UTF8String: ${why}`);
  }
  if (!isClientId(principal)) throw new FameExtensionError("principal is not a client id");
  return principal;
}

/**
 * The principal among `extensions` (read with extensions.ts); undefined when absent (a CA of an
 * older release, or a request). Duplicates are already refused by the extension reader.
 */
export function readPrincipalExtension(extensions: readonly RawExtension[]): string | undefined {
  const found = extensions.find((e) => e.oid === FAME_PRINCIPAL_EXTENSION_OID);
  if (!found) return undefined;
  if (found.critical) throw new FameExtensionError("FAME principal extension must not be critical");
  return decodePrincipalValue(found.value);
}
