/**
 * Logical addresses (`name@logical`) and logical grants as the registry sees them. The
 * grammar is the protocol's; what is added here is how strongly a grant covers a logical.
 */
import { isLogicalAddress, isValidLogical, isWildcardLogical, tryParseAddress } from "@fame/protocol";

export { isValidLogical, isWildcardLogical };

export interface ParsedLogicalAddress {
  name: string;
  logical: string;
}

/** Parse `name@logical`; physical (`name@/path`) and malformed addresses give undefined. */
export function parseLogicalAddress(address: string): ParsedLogicalAddress | undefined {
  const parsed = tryParseAddress(address);
  return parsed !== undefined && isLogicalAddress(parsed) ? parsed : undefined;
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
