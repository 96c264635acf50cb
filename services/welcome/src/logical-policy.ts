import { isDnsLogical, isWildcardPattern, logicalCoveredBy } from "@fame/identity";

export interface LogicalPolicyConfig {
  /** exact logicals must equal or sit under one of these domains */
  allowedDomains: string[];
  /** wildcard requests must fall under one of these `*.x` patterns */
  wildcardPatterns: string[];
}

export type LogicalDecision =
  | { ok: true; accepted: string[] }
  | { ok: false; refused: string; reason: string };

/**
 * Which logical names a node may claim. Exact names need an allowed domain;
 * wildcards are a stronger claim (a whole subtree), so they need an explicit
 * wildcard pattern that covers them.
 */
export class LogicalPolicy {
  constructor(private readonly config: LogicalPolicyConfig) {}

  decide(requested: readonly string[]): LogicalDecision {
    const accepted: string[] = [];
    for (const logical of requested) {
      if (isWildcardPattern(logical)) {
        if (!this.config.wildcardPatterns.some((p) => logicalCoveredBy(p, logical))) {
          return { ok: false, refused: logical, reason: "wildcard not allowed" };
        }
      } else if (isDnsLogical(logical)) {
        if (!this.config.allowedDomains.some((d) => logical === d || logical.endsWith(`.${d}`))) {
          return { ok: false, refused: logical, reason: "outside the allowed domains" };
        }
      } else {
        return { ok: false, refused: logical, reason: "not a valid DNS name or leading-label wildcard" };
      }
      if (!accepted.includes(logical)) accepted.push(logical);
    }
    return { ok: true, accepted };
  }
}
