/**
 * The access policy file (YAML): which principals may *serve* which logicals and *call* which
 * addresses. One document read by Welcome (what it grants at admission) and by the sentinel
 * (what it lets a node bind and call). A principal is the OAuth2 client id a node was admitted
 * with, or, without Welcome, its SPIFFE id (`spiffe://<trust domain>/nodes/<systemId>`).
 *
 * ```yaml
 * policy:
 *   type: AccessPolicy
 *   reserved_logicals: [fame.fabric]        # never granted exactly (the sentinel's own)
 *   serve:
 *     - principals: [fame-dev-agent]
 *       logicals: ["*.fame.fabric"]         # replicas of pools at or below fame.fabric
 *   call:
 *     - principals: ["*"]
 *       addresses: ["*@fame.fabric", "*@*.fame.fabric"]
 * ```
 */
import { ConfigError, loadYamlConfig, pick } from "@fame/config";
import { isValidName } from "@fame/protocol";
import { isDnsLogical, isGrantLogical, isWildcardPattern, logicalCoveredBy } from "../tokens/identifiers.js";

/** Reserved when the document does not say: the default trust domain, the sentinel's own logical. */
export const DEFAULT_RESERVED_LOGICALS: readonly string[] = Object.freeze(["fame.fabric"]);

export interface ServeRule {
  /** principal patterns: exact, `*`, or `prefix*` */
  principals: string[];
  /** `*.base` = pool member of addresses at or below base; `name.base` = exclusive holder */
  logicals: string[];
}

export interface CallRule {
  principals: string[];
  /** `name@logical`; the name may be `*`, the logical `*.base` (base and below) */
  addresses: string[];
}

export interface AccessPolicyDocument {
  /** the file it came from, for logs */
  source: string;
  reservedLogicals: string[];
  serve: ServeRule[];
  call: CallRule[];
}

const PRINCIPAL = /^[A-Za-z0-9_.:@/-]{1,256}$/;
const MAX_RULES = 1000;
const MAX_ITEMS = 1000;

/** Exact principal, `*` (anyone), or `prefix*`. */
export function isPrincipalPattern(v: unknown): v is string {
  if (typeof v !== "string") return false;
  if (v === "*") return true;
  const body = v.endsWith("*") ? v.slice(0, -1) : v;
  return PRINCIPAL.test(body);
}

export function principalMatches(pattern: string, principal: string): boolean {
  if (pattern === "*") return true;
  if (pattern.endsWith("*")) return principal.startsWith(pattern.slice(0, -1));
  return pattern === principal;
}

/** `name@logical` with `*` for any name and `*.base` for base and below. */
export function isAddressPattern(v: unknown): v is string {
  if (typeof v !== "string" || v.length > 320) return false;
  const at = v.indexOf("@");
  if (at <= 0) return false;
  const name = v.slice(0, at);
  const logical = v.slice(at + 1);
  return (name === "*" || isValidName(name)) && isGrantLogical(logical);
}

/**
 * Does the address pattern cover the logical address `name@logical`? `logical` is concrete.
 * A `*.base` logical covers base itself and every subdomain (as grants do).
 */
export function addressPatternCovers(pattern: string, name: string, logical: string): boolean {
  const at = pattern.indexOf("@");
  const pName = pattern.slice(0, at);
  if (pName !== "*" && pName !== name) return false;
  return logicalCoveredBy(pattern.slice(at + 1), logical);
}

/** The serve grants (logicals) the policy gives one principal, in document order, deduplicated. */
export function serveGrantsFor(doc: AccessPolicyDocument, principal: string): string[] {
  const out: string[] = [];
  for (const rule of doc.serve) {
    if (!rule.principals.some((p) => principalMatches(p, principal))) continue;
    for (const l of rule.logicals) if (!out.includes(l)) out.push(l);
  }
  return out;
}

/** Reads and checks the policy file; every defect is a ConfigError naming `setting` and the place. */
export function loadAccessPolicyFile(
  file: string,
  setting = "FAME_POLICY_FILE",
  env: NodeJS.ProcessEnv = process.env,
): AccessPolicyDocument {
  let tree: Record<string, unknown>;
  try {
    tree = loadYamlConfig(env, file).tree;
  } catch (err) {
    throw new ConfigError(setting, err instanceof ConfigError ? err.message : String(err));
  }
  return parseAccessPolicy(pick(tree, "policy"), `${setting} (${file}) policy`, file);
}

/** Checks a `policy:` block (keys already camelCased by the YAML loader). */
export function parseAccessPolicy(raw: unknown, where: string, source = "<policy>"): AccessPolicyDocument {
  if (raw === undefined || raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError(where, "must be a mapping with serve: and call: lists");
  }
  const block = raw as Record<string, unknown>;
  const known = new Set(["type", "reservedLogicals", "serve", "call"]);
  for (const key of Object.keys(block)) {
    if (!known.has(key)) throw new ConfigError(`${where}.${key}`, "unknown key");
  }
  if (block["type"] !== undefined && block["type"] !== "AccessPolicy") {
    throw new ConfigError(`${where}.type`, `must be AccessPolicy, got ${JSON.stringify(block["type"])}`);
  }
  const reserved =
    block["reservedLogicals"] === undefined
      ? [...DEFAULT_RESERVED_LOGICALS]
      : list(block["reservedLogicals"], `${where}.reserved_logicals`, isDnsLogical, "DNS logicals");
  const serve = rules(block["serve"], `${where}.serve`).map((r, i) => ({
    principals: list(r["principals"], `${where}.serve[${i}].principals`, isPrincipalPattern, "principals"),
    logicals: list(r["logicals"], `${where}.serve[${i}].logicals`, isGrantLogical, "logicals or *.wildcards"),
  }));
  const call = rules(block["call"], `${where}.call`).map((r, i) => ({
    principals: list(r["principals"], `${where}.call[${i}].principals`, isPrincipalPattern, "principals"),
    addresses: list(
      r["addresses"],
      `${where}.call[${i}].addresses`,
      isAddressPattern,
      "name@logical patterns",
    ),
  }));
  checkServeGrants(serve, reserved, `${where}.serve`);
  return { source, reservedLogicals: reserved, serve, call };
}

/**
 * An exact serve grant is an exclusive claim on every address at that logical. It may not name a
 * reserved logical, and may not fall under a wildcard grant: pool replicas and the exclusive
 * holder would lock each other out of the same addresses (whoever binds first wins).
 */
function checkServeGrants(serve: ServeRule[], reserved: readonly string[], where: string): void {
  const wildcards = serve.flatMap((r) => r.logicals.filter((l) => isWildcardPattern(l)));
  serve.forEach((rule, i) => {
    for (const l of rule.logicals) {
      if (isWildcardPattern(l)) continue;
      if (reserved.includes(l)) {
        throw new ConfigError(
          `${where}[${i}].logicals`,
          `${l} is reserved (the sentinel's own): never granted`,
        );
      }
      const over = wildcards.find((w) => logicalCoveredBy(w, l));
      if (over !== undefined) {
        throw new ConfigError(
          `${where}[${i}].logicals`,
          `exclusive grant ${l} lies under the pool grant ${over}: exclusive and pooled binds of the same addresses would lock each other out`,
        );
      }
    }
  });
}

function rules(raw: unknown, where: string): Record<string, unknown>[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw) || raw.length > MAX_RULES) {
    throw new ConfigError(where, `must be a list of at most ${MAX_RULES} rules`);
  }
  return raw.map((r, i) => {
    if (r === null || typeof r !== "object" || Array.isArray(r)) {
      throw new ConfigError(`${where}[${i}]`, "must be a mapping");
    }
    return r as Record<string, unknown>;
  });
}

function list(raw: unknown, where: string, valid: (v: unknown) => boolean, what: string): string[] {
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_ITEMS) {
    throw new ConfigError(where, `must be a non-empty list of ${what}`);
  }
  const out: string[] = [];
  for (const item of raw) {
    if (!valid(item)) throw new ConfigError(where, `${JSON.stringify(item)} is not valid (expected ${what})`);
    if (!out.includes(item as string)) out.push(item as string);
  }
  return out;
}
