/**
 * RFC 5280 4.2.1.10 name constraints, for the name forms our fabric uses: URIs (the constraint
 * is on the URI's host) and DNS names. Other forms are refused rather than ignored, so an
 * unexpected constraint can never silently widen what a CA may certify.
 */
import {
  concatBytes,
  DerError,
  encodeSequence,
  encodeTlv,
  readChildren,
  readSingle,
  TAG_SEQUENCE,
} from "./der.js";
import { uriHost } from "./names.js";

export const OID_NAME_CONSTRAINTS = "2.5.29.30";

const TAG_PERMITTED = 0xa0;
const TAG_EXCLUDED = 0xa1;
const TAG_GN_DNS = 0x82;
const TAG_GN_URI = 0x86;
const MAX_SUBTREES = 64;

export interface NameConstraints {
  permittedUris: string[];
  excludedUris: string[];
  permittedDns: string[];
  excludedDns: string[];
}

const ascii = new TextEncoder();

function subtrees(tag: number, hosts: readonly string[]): Uint8Array {
  return encodeTlv(
    tag,
    concatBytes(...hosts.map((h) => encodeSequence(encodeTlv(TAG_GN_URI, ascii.encode(h))))),
  );
}

/** extnValue of a NameConstraints extension restricting URI hosts (e.g. ["fame.fabric"]). */
export function encodeUriNameConstraints(
  permitted: readonly string[],
  excluded: readonly string[] = [],
): Uint8Array {
  const parts: Uint8Array[] = [];
  if (permitted.length > 0) parts.push(subtrees(TAG_PERMITTED, permitted));
  if (excluded.length > 0) parts.push(subtrees(TAG_EXCLUDED, excluded));
  return encodeSequence(...parts);
}

function readIa5(bytes: Uint8Array): string {
  for (const b of bytes) if (b < 0x20 || b > 0x7e) throw new DerError("name constraint is not printable IA5");
  return String.fromCharCode(...bytes).toLowerCase();
}

/** Parse a NameConstraints extnValue; throws DerError on malformed or unsupported content. */
export function decodeNameConstraints(value: Uint8Array): NameConstraints {
  const nc: NameConstraints = { permittedUris: [], excludedUris: [], permittedDns: [], excludedDns: [] };
  const fields = readChildren(readSingle(value, TAG_SEQUENCE), 2);
  if (fields.length === 0) throw new DerError("empty NameConstraints");
  for (const field of fields) {
    if (field.tag !== TAG_PERMITTED && field.tag !== TAG_EXCLUDED)
      throw new DerError("bad NameConstraints field");
    const permitted = field.tag === TAG_PERMITTED;
    for (const subtree of readChildren(field.value, MAX_SUBTREES)) {
      if (subtree.tag !== TAG_SEQUENCE) throw new DerError("GeneralSubtree is not a SEQUENCE");
      const parts = readChildren(subtree.value, 3);
      // RFC 5280: minimum MUST be zero (omitted in DER) and maximum MUST be absent.
      if (parts.length !== 1) throw new DerError("GeneralSubtree minimum/maximum are not supported");
      const base = parts[0]!;
      if (base.tag === TAG_GN_URI) (permitted ? nc.permittedUris : nc.excludedUris).push(readIa5(base.value));
      else if (base.tag === TAG_GN_DNS)
        (permitted ? nc.permittedDns : nc.excludedDns).push(readIa5(base.value));
      else throw new DerError(`unsupported name constraint form (tag 0x${base.tag.toString(16)})`);
    }
  }
  return nc;
}

/** URI host rule: "host" matches exactly; ".domain" matches any host strictly below it. */
function uriHostMatches(host: string, constraint: string): boolean {
  if (constraint.startsWith(".")) return host.endsWith(constraint) && host.length > constraint.length;
  return host === constraint;
}

/** DNS rule: the constraint and every name below it ("" matches all). */
function dnsMatches(name: string, constraint: string): boolean {
  const c = constraint.startsWith(".") ? constraint.slice(1) : constraint;
  if (c === "") return true;
  return name === c || name.endsWith(`.${c}`);
}

/** Description of the first name that violates `nc`, or null when all names conform. */
export function nameConstraintViolation(
  nc: NameConstraints,
  names: { uris: readonly string[]; dns: readonly string[] },
): string | null {
  for (const uri of names.uris) {
    const host = uriHost(uri);
    if (
      nc.permittedUris.length > 0 &&
      (host === null || !nc.permittedUris.some((c) => uriHostMatches(host, c)))
    ) {
      return `URI ${uri} is outside the permitted subtrees`;
    }
    if (host !== null && nc.excludedUris.some((c) => uriHostMatches(host, c))) {
      return `URI ${uri} is in an excluded subtree`;
    }
  }
  for (const raw of names.dns) {
    const name = raw.toLowerCase();
    if (nc.permittedDns.length > 0 && !nc.permittedDns.some((c) => dnsMatches(name, c))) {
      return `DNS name ${raw} is outside the permitted subtrees`;
    }
    if (nc.excludedDns.some((c) => dnsMatches(name, c))) return `DNS name ${raw} is in an excluded subtree`;
  }
  return null;
}
