import { sameSecret } from "./same-secret.js";
import type { SecurityProfile } from "./sentinel-config.js";

/**
 * Who may use the sentinel's operator endpoints. Loopback is not an identity: every admitted
 * node on the sentinel's host (and anything that can relay through it) is on loopback.
 *
 * - `drain` (POST /fame/v1/nodes/:id/drain) changes the fabric: always the admin token.
 * - `read` (GET /fame/v1/status, GET /metrics) lists every node's ids and paths: the admin
 *   token, except in the open profile (a development fabric), where loopback may read too.
 *
 * With no token configured the token-only endpoints answer 403 naming the setting to set.
 */
export type OperatorEndpoint = "drain" | "read";

export interface OperatorRequest {
  authorization: string | undefined;
  remoteAddress: string | undefined;
}

export interface OperatorAccessRule {
  token: string | undefined;
  profile: SecurityProfile;
}

export type AccessVerdict =
  | { ok: true }
  | { ok: false; status: 401 | 403; body: { error: string; error_description: string } };

const ALLOWED: AccessVerdict = Object.freeze({ ok: true });
const NO_TOKEN: AccessVerdict = Object.freeze({
  ok: false,
  status: 403,
  body: Object.freeze({
    error: "forbidden",
    error_description: "operator endpoint disabled: the sentinel has no FAME_SENTINEL_ADMIN_TOKEN",
  }),
});
const MISSING_TOKEN: AccessVerdict = Object.freeze({
  ok: false,
  status: 401,
  body: Object.freeze({
    error: "unauthorized",
    error_description: "no admin token sent: Authorization: Bearer <FAME_SENTINEL_ADMIN_TOKEN> required",
  }),
});
const WRONG_TOKEN: AccessVerdict = Object.freeze({
  ok: false,
  status: 401,
  body: Object.freeze({
    error: "unauthorized",
    error_description: "the admin token sent is not this sentinel's FAME_SENTINEL_ADMIN_TOKEN",
  }),
});

function isLoopback(addr: string | undefined): boolean {
  return addr === "127.0.0.1" || addr === "::1" || addr === "::ffff:127.0.0.1";
}

export function operatorAccess(
  endpoint: OperatorEndpoint,
  req: OperatorRequest,
  rule: OperatorAccessRule,
): AccessVerdict {
  const header = req.authorization;
  if (rule.token !== undefined && header?.startsWith("Bearer ") && sameSecret(header.slice(7), rule.token))
    return ALLOWED;
  if (endpoint === "read" && rule.profile === "open" && isLoopback(req.remoteAddress)) return ALLOWED;
  if (rule.token === undefined) return NO_TOKEN;
  // whether a token came tells the operator what to fix; the token itself is never echoed
  return header === undefined || header === "" ? MISSING_TOKEN : WRONG_TOKEN;
}
