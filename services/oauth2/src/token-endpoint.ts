import { remoteKey } from "@fame/http-service/remote-key";
import { type AccessTokenClaims, parseScope, type SigningKey, signAccessToken } from "@fame/identity";
import { type Logger, LogThrottle, quotedName } from "@fame/logger";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { basicChallenge, presentedCredentials } from "./client-auth.js";
import { CLIENT_CREDENTIALS, type ClientRegistry } from "./clients.js";
import type { FailedAuthLimiter } from "./failed-auth-limiter.js";
import { OAuthError, sendOAuthError } from "./oauth-error.js";

export interface TokenEndpointDeps {
  clients: ClientRegistry;
  limiter: FailedAuthLimiter;
  signingKey: SigningKey;
  issuer: string;
  audience: string;
  tokenTtlSec: number;
  log: Logger;
}

export const TOKEN_PATH = "/oauth/token";
const KNOWN_PARAMS = new Set(["grant_type", "scope", "client_id", "client_secret"]);

export function registerTokenEndpoint(app: FastifyInstance, deps: TokenEndpointDeps): void {
  const refusalLog = new LogThrottle(5, 100, 60_000);
  app.post(TOKEN_PATH, async (req, reply) => {
    try {
      const { token, claims } = await issue(req, deps);
      return reply.headers({ "cache-control": "no-store", pragma: "no-cache" }).send({
        access_token: token,
        token_type: "Bearer",
        expires_in: claims.exp - claims.iat,
        scope: claims.scope,
      });
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      // anyone may send malformed requests: a flood of them is a few lines a minute, counted
      if (refusalLog.hit())
        req.log.warn(
          { event: "token_refused", error: err.code, reason: err.description, refusals: refusalLog.total },
          "token request refused",
        );
      return sendOAuthError(reply, err);
    }
  });
}

async function issue(
  req: FastifyRequest,
  deps: TokenEndpointDeps,
): Promise<{ token: string; claims: AccessTokenClaims }> {
  const body = singleValuedParams(req.body);
  const auth = req.headers.authorization;
  const creds = presentedCredentials(auth, body);
  if (!creds)
    throw new OAuthError("invalid_client", "client authentication is required", 401, basicChallenge);
  const challenge = creds.method === "client_secret_basic" ? basicChallenge : undefined;

  // Failures count per client id *and source*: keyed by the id alone, anybody could lock a
  // credential's real holders out (client ids are not secret) by failing ten times a minute.
  const failureKey = `${remoteKey(req.ip)}\u0000${creds.clientId}`;
  const blockedMs = deps.limiter.blockedFor(failureKey);
  if (blockedMs > 0) {
    throw new OAuthError("temporarily_unavailable", "too many failed authentications; retry later", 429, {
      "retry-after": String(Math.ceil(blockedMs / 1000)),
    });
  }
  const client = deps.clients.authenticate(creds.clientId, creds.clientSecret);
  if (!client) {
    deps.limiter.recordFailure(failureKey);
    // Same answer for an unknown id and a wrong secret: do not confirm which ids exist.
    throw new OAuthError("invalid_client", "client authentication failed", 401, challenge);
  }
  deps.limiter.recordSuccess(failureKey);

  const grantType = body["grant_type"];
  if (grantType === undefined) throw new OAuthError("invalid_request", "grant_type is required");
  if (grantType !== CLIENT_CREDENTIALS) {
    throw new OAuthError("unsupported_grant_type", "only client_credentials is supported");
  }
  if (!client.grantTypes.includes(CLIENT_CREDENTIALS)) {
    throw new OAuthError("unauthorized_client", "this client may not use client_credentials");
  }

  const scopes = grantedScopes(body["scope"], client.scopes);
  const signed = await signAccessToken(deps.signingKey, {
    issuer: deps.issuer,
    audience: deps.audience,
    clientId: client.clientId,
    scopes,
    ttlSec: deps.tokenTtlSec,
  });
  deps.log.info(
    {
      event: "token_issued",
      client_id: client.clientId,
      scope: signed.claims.scope,
      jti: signed.claims.jti,
      auth: creds.method,
    },
    "access token issued",
  );
  return signed;
}

/** Requested scopes must each be allowed; none requested means all the client may have. */
function grantedScopes(requested: string | undefined, allowed: readonly string[]): string[] {
  if (requested === undefined) {
    if (allowed.length === 0) throw new OAuthError("invalid_scope", "client has no scopes");
    return [...allowed];
  }
  const scopes = parseScope(requested);
  if (scopes === undefined) throw new OAuthError("invalid_scope", "scope is malformed");
  const refused = scopes.filter((s) => !allowed.includes(s));
  if (refused.length > 0)
    throw new OAuthError("invalid_scope", `scope not allowed for this client: ${refused.join(" ")}`);
  return scopes;
}

/** Accepts form or JSON bodies; parameters must be strings, known, and not repeated (RFC 6749 §3.2). */
function singleValuedParams(raw: unknown): Record<string, string | undefined> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== "object" || Array.isArray(raw))
    throw new OAuthError("invalid_request", "body must be form parameters");
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (Array.isArray(v)) throw new OAuthError("invalid_request", `parameter ${quotedName(k)} is repeated`);
    if (typeof v !== "string")
      throw new OAuthError("invalid_request", `parameter ${quotedName(k)} must be a string`);
    if (v.length > 2048) throw new OAuthError("invalid_request", `parameter ${quotedName(k)} is too long`);
    // Unknown parameters are ignored per RFC 6749 §3.2, but only the known ones are kept.
    if (KNOWN_PARAMS.has(k)) out[k] = v;
  }
  return out;
}
