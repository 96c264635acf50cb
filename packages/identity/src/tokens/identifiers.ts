/**
 * Shape checks for the identity values carried in tokens. They mirror the
 * fabric's address rules (lowercase DNS logicals, `/seg/seg` paths) but live
 * here so token validation does not depend on the wider protocol surface.
 */

/** systemId also names a path segment, so it takes the segment alphabet. */
export const SYSTEM_ID_PATTERN = /^[A-Za-z0-9_]{1,64}$/;
/** instanceId, jti, kid: url-safe and bounded. */
export const TOKEN_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;
/** OAuth2 client ids accepted by this fabric (narrower than RFC 6749 allows, on purpose). */
export const CLIENT_ID_PATTERN = /^[A-Za-z0-9_.:@-]{1,128}$/;
/** One RFC 6749 scope-token: %x21 / %x23-5B / %x5D-7E. */
export const SCOPE_TOKEN_PATTERN = /^[\x21\x23-\x5B\x5D-\x7E]{1,64}$/;
/** capability names announced by nodes. */
export const CAPABILITY_PATTERN = /^[A-Za-z0-9_.:/-]{1,64}$/;

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const SEGMENT = /^[A-Za-z0-9_]{1,64}$/;

export const LIMITS = {
  maxLogicalLength: 253,
  maxPathSegments: 8,
  maxLogicals: 32,
  maxScopes: 32,
  maxScopeLength: 1024,
  maxCapabilities: 32,
  /** compact JWTs above this are refused before any parsing */
  maxTokenBytes: 8 * 1024,
} as const;

export function isSystemId(v: unknown): v is string {
  return typeof v === "string" && SYSTEM_ID_PATTERN.test(v);
}

export function isTokenId(v: unknown): v is string {
  return typeof v === "string" && TOKEN_ID_PATTERN.test(v);
}

export function isClientId(v: unknown): v is string {
  return typeof v === "string" && CLIENT_ID_PATTERN.test(v);
}

/** A concrete lowercase DNS name (no wildcard). */
export function isDnsLogical(v: unknown): v is string {
  if (typeof v !== "string" || v.length === 0 || v.length > LIMITS.maxLogicalLength) return false;
  for (const label of v.split(".")) if (!LABEL.test(label)) return false;
  return true;
}

/** `*.` + a DNS name: the wildcard may only be the whole leading label. */
export function isWildcardPattern(v: unknown): boolean {
  return (
    typeof v === "string" &&
    v.length <= LIMITS.maxLogicalLength &&
    v.startsWith("*.") &&
    isDnsLogical(v.slice(2))
  );
}

/** A logical as it may appear in a grant: exact name or leading-label wildcard. */
export function isGrantLogical(v: unknown): boolean {
  return isDnsLogical(v) || isWildcardPattern(v);
}

/** `/seg/seg...`, 1–8 segments of the systemId alphabet. */
export function isAssignedPath(v: unknown): v is string {
  if (typeof v !== "string" || v.length < 2 || v.length > LIMITS.maxPathSegments * 65 || !v.startsWith("/")) {
    return false;
  }
  const segments = v.slice(1).split("/");
  if (segments.length > LIMITS.maxPathSegments) return false;
  return segments.every((s) => SEGMENT.test(s));
}

/**
 * Whether `logical` (exact or wildcard) falls under `pattern`. A wildcard
 * pattern `*.base` covers `base`'s subdomains and narrower wildcards under it;
 * the dot check stops `*.fabric` from covering `evilfabric`.
 */
export function logicalCoveredBy(pattern: string, logical: string): boolean {
  if (!isGrantLogical(pattern) || !isGrantLogical(logical)) return false;
  if (!pattern.startsWith("*.")) return pattern === logical;
  const base = pattern.slice(2);
  const name = logical.startsWith("*.") ? logical.slice(2) : logical;
  return name === base || name.endsWith(`.${base}`);
}

/** Splits a space-separated scope string; undefined when any token is malformed. */
export function parseScope(scope: string): string[] | undefined {
  if (scope.length > LIMITS.maxScopeLength) return undefined;
  const parts = scope.split(" ");
  if (parts.length > LIMITS.maxScopes) return undefined;
  for (const p of parts) if (!SCOPE_TOKEN_PATTERN.test(p)) return undefined;
  return [...new Set(parts)];
}
