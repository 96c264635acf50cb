import {
  type AccessPolicyDocument,
  addressPatternCovers,
  isWildcardPattern,
  principalMatches,
} from "@fame/identity";
import type { NodeSession } from "../node-session.js";
import { coverageOf, grantCovers, parseLogicalAddress } from "../routing/address.js";
import type { AccessPolicy } from "./access-policy.js";

export interface YamlAccessPolicyOptions {
  /** logicals never served exclusively, besides the document's own (the sentinel's logicals) */
  reservedLogicals?: readonly string[];
  /** principals whose compiled grants are kept; beyond it the table starts over. Default 10 000 */
  maxPrincipals?: number;
  /** call answers cached per principal; beyond it that cache starts over. Default 4096 */
  maxCachedCalls?: number;
}

/** One principal's rules, compiled on its first use: what it may serve and call. */
interface PrincipalGrants {
  /** `*.base` serve grants: pool member of any address at or below base */
  pools: string[];
  /** exact serve grants: exclusive holder of addresses at exactly that logical */
  exclusive: Set<string>;
  /** call rules that name a whole address */
  callExact: Set<string>;
  /** call rules with a `*` name or a `*.base` logical */
  callPatterns: string[];
  /** answers per address already decided (bounded) */
  calls: Map<string, boolean>;
}

/**
 * The access policy from the YAML file (`FAME_POLICY_FILE`), compiled into per-principal tables:
 * `mayCall` is a principal lookup and an address lookup in that principal's bounded answer cache
 * (no allocation once an address was seen); patterns are matched only on a cache miss.
 *
 * Serving: a pooled bind (the node's ticket covers the logical through a wildcard) needs a
 * `*.base` serve grant covering the logical; an exclusive bind (exact ticket grant) needs the
 * exact logical as a serve grant, and never a reserved one. So nobody squats a name exclusively
 * unless the policy says that name is theirs alone, and a client credential with no serve
 * grant joins no pool.
 */
export class YamlAccessPolicy implements AccessPolicy {
  private readonly byPrincipal = new Map<string, PrincipalGrants>();
  private readonly reserved: ReadonlySet<string>;
  private readonly maxPrincipals: number;
  private readonly maxCachedCalls: number;

  constructor(
    private readonly doc: AccessPolicyDocument,
    opts: YamlAccessPolicyOptions = {},
  ) {
    this.reserved = new Set([...doc.reservedLogicals, ...(opts.reservedLogicals ?? [])]);
    this.maxPrincipals = opts.maxPrincipals ?? 10_000;
    this.maxCachedCalls = opts.maxCachedCalls ?? 4096;
  }

  mayServe(node: NodeSession, address: string): boolean {
    const parsed = parseLogicalAddress(address);
    // Not a logical address: nothing to serve; the registry refuses it with its own code.
    if (parsed === undefined) return true;
    const grants = this.grantsOf(node.principal);
    if (coverageOf(parsed.logical, node.acceptedLogicals) === "exact") {
      return grants.exclusive.has(parsed.logical) && !this.reserved.has(parsed.logical);
    }
    for (const pool of grants.pools) if (grantCovers(pool, parsed.logical) === "wildcard") return true;
    return false;
  }

  mayCall(node: NodeSession, address: string): boolean {
    const grants = this.grantsOf(node.principal);
    const known = grants.calls.get(address);
    if (known !== undefined) return known;
    const allowed = this.decideCall(grants, address);
    if (grants.calls.size >= this.maxCachedCalls) grants.calls.clear();
    grants.calls.set(address, allowed);
    return allowed;
  }

  private decideCall(grants: PrincipalGrants, address: string): boolean {
    if (grants.callExact.has(address)) return true;
    if (grants.callPatterns.length === 0) return false;
    const parsed = parseLogicalAddress(address);
    if (parsed === undefined) return false;
    for (const p of grants.callPatterns)
      if (addressPatternCovers(p, parsed.name, parsed.logical)) return true;
    return false;
  }

  private grantsOf(principal: string): PrincipalGrants {
    const known = this.byPrincipal.get(principal);
    if (known !== undefined) return known;
    const compiled = this.compile(principal);
    if (this.byPrincipal.size >= this.maxPrincipals) this.byPrincipal.clear();
    this.byPrincipal.set(principal, compiled);
    return compiled;
  }

  private compile(principal: string): PrincipalGrants {
    const g: PrincipalGrants = {
      pools: [],
      exclusive: new Set(),
      callExact: new Set(),
      callPatterns: [],
      calls: new Map(),
    };
    for (const rule of this.doc.serve) {
      if (!rule.principals.some((p) => principalMatches(p, principal))) continue;
      for (const l of rule.logicals) {
        if (isWildcardPattern(l)) {
          if (!g.pools.includes(l)) g.pools.push(l);
        } else g.exclusive.add(l);
      }
    }
    for (const rule of this.doc.call) {
      if (!rule.principals.some((p) => principalMatches(p, principal))) continue;
      for (const a of rule.addresses) {
        const wild = a.startsWith("*@") || a.includes("@*.");
        if (!wild) g.callExact.add(a);
        else if (!g.callPatterns.includes(a)) g.callPatterns.push(a);
      }
    }
    return g;
  }
}
