/**
 * A small local parser for logical addresses (`name@logical`) and logical grants.
 * Kept here rather than imported so the routing core has no dependency on packages
 * that are still being written; the rules match the protocol's address grammar.
 */

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const MAX_LOGICAL = 253;
/** Longest possible `name@logical`; lets us refuse huge input before running regexes. */
const MAX_ADDRESS = 64 + 1 + MAX_LOGICAL;

export interface ParsedLogicalAddress {
  name: string;
  logical: string;
}

/** A concrete (non-wildcard) lowercase DNS host name of at most 253 characters. */
export function isValidLogical(s: string): boolean {
  if (s.length === 0 || s.length > MAX_LOGICAL) return false;
  for (const label of s.split(".")) if (!LABEL.test(label)) return false;
  return true;
}

/** `*.` followed by a valid logical. A bare `*` is never valid: it would grant everything. */
export function isWildcardLogical(s: string): boolean {
  return s.length <= MAX_LOGICAL + 2 && s.startsWith("*.") && isValidLogical(s.slice(2));
}

/** Parse `name@logical`; physical (`name@/path`) and malformed addresses give undefined. */
export function parseLogicalAddress(address: string): ParsedLogicalAddress | undefined {
  if (address.length > MAX_ADDRESS) return undefined;
  const at = address.indexOf("@");
  if (at <= 0) return undefined;
  const name = address.slice(0, at);
  const logical = address.slice(at + 1);
  if (!NAME.test(name) || !isValidLogical(logical)) return undefined;
  return { name, logical };
}

/** How a single grant covers a logical: exactly, through a wildcard, or not at all. */
export type Coverage = "exact" | "wildcard" | undefined;

/**
 * `*.base` covers `base` itself and every subdomain of it; a plain logical covers only itself.
 * Malformed grants cover nothing, so a bad grant can never widen access.
 */
export function grantCovers(grant: string, logical: string): Coverage {
  if (grant === logical) return isValidLogical(grant) ? "exact" : undefined;
  if (!isWildcardLogical(grant)) return undefined;
  const base = grant.slice(2);
  // The dot check stops `*.fabric` from covering `evilfabric`.
  return logical === base || logical.endsWith(`.${base}`) ? "wildcard" : undefined;
}

/**
 * The strongest coverage over a list of grants. A wildcard wins over an exact grant:
 * a node holding `*.fame.fabric` is a replica-capable node even if it also lists the exact name.
 */
export function coverageOf(logical: string, grants: readonly string[]): Coverage {
  let best: Coverage;
  for (const grant of grants) {
    const c = grantCovers(grant, logical);
    if (c === "wildcard") return c;
    if (c === "exact") best = c;
  }
  return best;
}
