/**
 * Extension lists read straight from DER. @peculiar/x509 re-serializes extensions it has
 * parsed, which corrupts OIDs with arcs above 2^53 (our FAME OID), so everything that must
 * see the FAME extension reads extensions through here.
 */

import { certificateParts } from "./cert-parts.js";
import {
  DerError,
  decodeOid,
  readChildren,
  readSingle,
  TAG_BOOLEAN,
  TAG_OCTET_STRING,
  TAG_OID,
  TAG_SEQUENCE,
  TAG_SET,
} from "./der.js";

export interface RawExtension {
  oid: string;
  critical: boolean;
  /** extnValue contents (the DER of the extension-specific structure). */
  value: Uint8Array;
  /** The whole Extension element. */
  der: Uint8Array;
}

const MAX_EXTENSIONS = 32;
const OID_EXTENSION_REQUEST = "1.2.840.113549.1.9.14";

function parseExtensions(seq: Uint8Array): RawExtension[] {
  const out: RawExtension[] = [];
  const seen = new Set<string>();
  for (const ext of readChildren(seq, MAX_EXTENSIONS)) {
    if (ext.tag !== TAG_SEQUENCE) throw new DerError("extension is not a SEQUENCE");
    const parts = readChildren(ext.value, 3);
    const [id, second, third] = parts;
    if (!id || id.tag !== TAG_OID) throw new DerError("extension without OID");
    let critical = false;
    let value = second;
    if (second?.tag === TAG_BOOLEAN) {
      // DER encodes DEFAULT FALSE by omission, so an explicit BOOLEAN must be TRUE (0xff).
      if (second.value.length !== 1 || second.value[0] !== 0xff) throw new DerError("bad critical flag");
      critical = true;
      value = third;
    } else if (parts.length !== 2) {
      throw new DerError("malformed extension");
    }
    if (!value || value.tag !== TAG_OCTET_STRING) throw new DerError("extension without value");
    const oid = decodeOid(id.value);
    // RFC 5280 4.2: a certificate MUST NOT include more than one instance of an extension.
    if (seen.has(oid)) throw new DerError(`duplicate extension ${oid}`);
    seen.add(oid);
    out.push({ oid, critical, value: value.value, der: ext.raw });
  }
  return out;
}

/** Extensions of a DER certificate (v3 [3] field); empty when it has none. */
export function certificateExtensions(certDer: Uint8Array): RawExtension[] {
  const ext = certificateParts(certDer).extensions;
  return ext ? parseExtensions(ext) : [];
}

/** Extensions requested by a DER PKCS#10 CSR (extensionRequest attribute); empty when none. */
export function csrExtensions(csrDer: Uint8Array): RawExtension[] {
  const req = readChildren(readSingle(csrDer, TAG_SEQUENCE), 3);
  const info = req[0];
  if (!info || info.tag !== TAG_SEQUENCE) throw new DerError("CSR has no CertificationRequestInfo");
  const attrs = readChildren(info.value, 4)[3];
  if (attrs?.tag !== 0xa0) return [];
  let found: RawExtension[] | null = null;
  for (const attr of readChildren(attrs.value, 16)) {
    if (attr.tag !== TAG_SEQUENCE) throw new DerError("attribute is not a SEQUENCE");
    const [type, values] = readChildren(attr.value, 2);
    if (!type || type.tag !== TAG_OID || !values || values.tag !== TAG_SET)
      throw new DerError("bad attribute");
    if (decodeOid(type.value) !== OID_EXTENSION_REQUEST) continue;
    if (found) throw new DerError("several extensionRequest attributes");
    const items = readChildren(values.value, 2);
    if (items.length !== 1 || items[0]!.tag !== TAG_SEQUENCE) throw new DerError("bad extensionRequest");
    found = parseExtensions(items[0]!.value);
  }
  return found ?? [];
}
