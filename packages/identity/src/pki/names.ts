import { isAssignedPath, isDnsLogical, isSystemId } from "../tokens/identifiers.js";

/**
 * Shapes of the identity values carried in CSRs and certificates. systemIds, paths and DNS
 * names follow the same rules as the tokens that authorise them (tokens/identifiers.ts), so
 * an identity Welcome grants always fits a certificate.
 */

export const DEFAULT_TRUST_DOMAIN = "fame.fabric";

export const SID_PATTERN = /^[A-Za-z0-9]{1,64}$/;
/** Upper bound on logicals per node; matches the protocol's NodeAttach limit. */
export const MAX_LOGICALS = 64;

export const isSystemIdValue = isSystemId;

export function isSidValue(value: unknown): value is string {
  return typeof value === "string" && SID_PATTERN.test(value);
}

/** Lowercase DNS name, no trailing dot. */
export const isDnsHost = isDnsLogical;

/** Physical path `/seg/seg…`, at most 8 segments. */
export const isPathValue = isAssignedPath;

/** A concrete logical host name or a `*.`-wildcard one. */
export function isLogicalValue(value: unknown): value is string {
  if (typeof value !== "string") return false;
  return isDnsHost(value.startsWith("*.") ? value.slice(2) : value);
}

/** Throws TypeError naming the offending field; used on locally supplied (trusted) input. */
export function assertNodeIdentity(id: {
  systemId: string;
  assignedPath: string;
  logicals: readonly string[];
  trustDomain: string;
}): void {
  if (!isSystemIdValue(id.systemId)) throw new TypeError("systemId must match [A-Za-z0-9_]{1,64}");
  if (!isPathValue(id.assignedPath)) throw new TypeError("assignedPath must be a /seg/seg path");
  if (!Array.isArray(id.logicals) || id.logicals.length > MAX_LOGICALS) {
    throw new TypeError(`logicals must be an array of at most ${MAX_LOGICALS} entries`);
  }
  for (const l of id.logicals) if (!isLogicalValue(l)) throw new TypeError(`invalid logical: ${String(l)}`);
  if (!isDnsHost(id.trustDomain)) throw new TypeError("trustDomain must be a lowercase DNS name");
}

export function nodeSpiffeId(trustDomain: string, systemId: string): string {
  return `spiffe://${trustDomain}/nodes/${systemId}`;
}

export interface ParsedSpiffeId {
  trustDomain: string;
  /** Path part, always starting with "/". */
  path: string;
}

/**
 * Parse a SPIFFE ID per the SPIFFE-ID spec subset we issue: lowercase trust domain, no port,
 * userinfo, query or fragment, non-empty path without empty/dot segments. null when not one.
 */
export function parseSpiffeId(uri: string): ParsedSpiffeId | null {
  if (uri.length > 2048 || !uri.startsWith("spiffe://")) return null;
  const rest = uri.slice("spiffe://".length);
  const slash = rest.indexOf("/");
  if (slash <= 0) return null;
  const trustDomain = rest.slice(0, slash);
  const path = rest.slice(slash);
  if (!/^[a-z0-9._-]+$/.test(trustDomain)) return null;
  if (!/^(?:\/[A-Za-z0-9._-]+)+$/.test(path)) return null;
  if (path.split("/").some((seg) => seg === "." || seg === "..")) return null;
  return { trustDomain, path };
}

/** systemId from `spiffe://<td>/nodes/<systemId>`, or null when the ID is not a node ID. */
export function systemIdFromSpiffePath(path: string): string | null {
  const m = /^\/nodes\/([A-Za-z0-9_]{1,64})$/.exec(path);
  return m ? m[1]! : null;
}

/**
 * Host part of a URI as RFC 5280 name constraints use it (section 4.2.1.10): the authority
 * without userinfo and port, lowercased. null when the URI has no authority/host.
 */
export function uriHost(uri: string): string | null {
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(uri);
  if (!m) return null;
  let authority = m[1]!;
  const at = authority.lastIndexOf("@");
  if (at >= 0) authority = authority.slice(at + 1);
  if (authority.startsWith("[")) return null; // IP-literal hosts cannot satisfy a DNS-style URI constraint
  const colon = authority.indexOf(":");
  if (colon >= 0) authority = authority.slice(0, colon);
  return authority.length > 0 ? authority.toLowerCase() : null;
}
