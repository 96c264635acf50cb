import {
  type AccessPolicyDocument,
  DEFAULT_RESERVED_LOGICALS,
  isDnsLogical,
  isWildcardPattern,
  logicalCoveredBy,
  serveGrantsFor,
} from "@fame/identity";

export interface LogicalPolicyConfig {
  /** exact logicals must equal or sit under one of these domains */
  allowedDomains: string[];
  /** wildcard requests must fall under one of these `*.x` patterns */
  wildcardPatterns: string[];
  /**
   * Logicals never granted exactly: an exact grant is an exclusive claim on every address at
   * that logical, and these are the sentinel's own. Default: the policy's, else `fame.fabric`.
   */
  reservedLogicals?: readonly string[];
  /** the access policy file (FAME_POLICY_FILE): per OAuth2 client, what it may serve */
  access?: AccessPolicyDocument | undefined;
}

export type LogicalDecision =
  | { ok: true; accepted: string[] }
  | { ok: false; refused: string; reason: string };

/**
 * Which logical names a node may claim. Exact names need an allowed domain;
 * wildcards are a stronger claim (a whole subtree), so they need an explicit
 * wildcard pattern that covers them. With an access policy, the client's own serve grants
 * narrow that further: a wildcard under one of its wildcard grants, an exact name only when
 * granted exactly (a client credential with no serve grant gets no logical at all).
 */
export class LogicalPolicy {
  private readonly reserved: readonly string[];

  constructor(private readonly config: LogicalPolicyConfig) {
    this.reserved = config.reservedLogicals ?? config.access?.reservedLogicals ?? DEFAULT_RESERVED_LOGICALS;
  }

  decide(requested: readonly string[], clientId = ""): LogicalDecision {
    const accepted: string[] = [];
    const grants = this.config.access ? serveGrantsFor(this.config.access, clientId) : undefined;
    for (const logical of requested) {
      if (isWildcardPattern(logical)) {
        if (!this.config.wildcardPatterns.some((p) => logicalCoveredBy(p, logical))) {
          return { ok: false, refused: logical, reason: "wildcard not allowed" };
        }
        if (grants && !grants.some((g) => isWildcardPattern(g) && logicalCoveredBy(g, logical))) {
          return { ok: false, refused: logical, reason: "the access policy grants this client no such pool" };
        }
      } else if (isDnsLogical(logical)) {
        if (!this.config.allowedDomains.some((d) => logical === d || logical.endsWith(`.${d}`))) {
          return { ok: false, refused: logical, reason: "outside the allowed domains" };
        }
        if (this.reserved.includes(logical)) {
          return {
            ok: false,
            refused: logical,
            reason: "reserved (the sentinel's own logical): never granted",
          };
        }
        if (grants && !grants.includes(logical)) {
          return {
            ok: false,
            refused: logical,
            reason: "the access policy grants this client no exclusive logical",
          };
        }
      } else {
        return { ok: false, refused: logical, reason: "not a valid DNS name or leading-label wildcard" };
      }
      if (!accepted.includes(logical)) accepted.push(logical);
    }
    return { ok: true, accepted };
  }
}
