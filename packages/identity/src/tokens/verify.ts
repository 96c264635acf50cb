import { sidFromPath } from "@fame/protocol";
import {
  type CryptoKey,
  createLocalJWKSet,
  errors,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
  type KeyObject,
} from "jose";
import {
  type AccessTokenClaims,
  CA_GRANT_AUDIENCE,
  type IdentityClaims,
  MAX_TICKET_TTL_SEC,
  TOKEN_ALG,
  TOKEN_TYPES,
  type TokenKind,
} from "./claims.js";
import { TokenError } from "./errors.js";
import {
  isAssignedPath,
  isClientId,
  isGrantLogical,
  isSystemId,
  isTokenId,
  LIMITS,
  parseScope,
} from "./identifiers.js";

/** Where verification keys come from: a resolver (local/remote JWKS), a JWKS document, or one key. */
export type VerificationKeys = JWTVerifyGetKey | JSONWebKeySet | CryptoKey | KeyObject;

export interface VerifyOptions {
  keys: VerificationKeys;
  issuer: string;
  audience: string;
  /** ms since epoch; default Date.now() */
  now?: number;
  /** seconds of clock skew tolerated on exp/nbf/iat; default 30 */
  clockToleranceSec?: number;
}

export interface AccessTokenVerifyOptions extends VerifyOptions {
  /** every listed scope must be granted, else `token_missing_scope` */
  requiredScopes?: readonly string[];
}

const DEFAULT_CLOCK_TOLERANCE_SEC = 30;
/** Access tokens outliving a day are refused even if correctly signed: a mis-issued token must not last. */
const MAX_ACCESS_TOKEN_LIFETIME_SEC = 24 * 3600;

export async function verifyAccessToken(
  token: string,
  opts: AccessTokenVerifyOptions,
): Promise<AccessTokenClaims> {
  const payload = await verifyJwt(token, "accessToken", opts, MAX_ACCESS_TOKEN_LIFETIME_SEC);
  const clientId = payload["client_id"];
  if (!isClientId(clientId) || payload.sub !== clientId) {
    throw new TokenError("token_invalid", "client_id is missing, malformed or differs from sub");
  }
  const scope = payload["scope"];
  const scopes = typeof scope === "string" ? parseScope(scope) : undefined;
  if (scopes === undefined) throw new TokenError("token_invalid", "scope claim is missing or malformed");
  for (const required of opts.requiredScopes ?? []) {
    if (!scopes.includes(required))
      throw new TokenError("token_missing_scope", `token lacks scope ${required}`);
  }
  return { ...registered(payload), client_id: clientId, scope: scope as string, scopes };
}

export async function verifyAttachTicket(token: string, opts: VerifyOptions): Promise<IdentityClaims> {
  return identityClaims(await verifyJwt(token, "attachTicket", opts, MAX_TICKET_TTL_SEC));
}

/** The audience defaults to `fame-ca`, the only audience CA grants are issued for. */
export async function verifyCaGrant(
  token: string,
  opts: Omit<VerifyOptions, "audience"> & { audience?: string },
): Promise<IdentityClaims> {
  const full = { ...opts, audience: opts.audience ?? CA_GRANT_AUDIENCE };
  return identityClaims(await verifyJwt(token, "caGrant", full, MAX_TICKET_TTL_SEC));
}

async function verifyJwt(
  token: string,
  kind: TokenKind,
  opts: VerifyOptions,
  maxLifetimeSec: number,
): Promise<JWTPayload> {
  if (typeof token !== "string" || token.length === 0 || token.length > LIMITS.maxTokenBytes) {
    throw new TokenError("token_invalid", "token is empty or too large");
  }
  const tolerance = opts.clockToleranceSec ?? DEFAULT_CLOCK_TOLERANCE_SEC;
  let payload: JWTPayload;
  try {
    const result = await jwtVerify(token, keyInput(opts.keys), {
      algorithms: [TOKEN_ALG],
      typ: TOKEN_TYPES[kind],
      issuer: opts.issuer,
      audience: opts.audience,
      clockTolerance: tolerance,
      currentDate: new Date(opts.now ?? Date.now()),
      requiredClaims: ["iss", "aud", "sub", "jti", "iat", "exp"],
    });
    payload = result.payload;
  } catch (err) {
    throw mapJoseError(err);
  }
  // A single audience is issued; an array could smuggle extra audiences past a lax verifier elsewhere.
  if (typeof payload.aud !== "string") throw new TokenError("token_invalid", "aud must be a single string");
  if (!isTokenId(payload.jti)) throw new TokenError("token_invalid", "jti is malformed");
  const { iat, exp } = payload as { iat: number; exp: number };
  if (!Number.isSafeInteger(iat) || !Number.isSafeInteger(exp) || exp <= iat || exp - iat > maxLifetimeSec) {
    throw new TokenError("token_invalid", `lifetime must be 1..${maxLifetimeSec} s`);
  }
  // jose checks iat only with maxTokenAge; a token minted in the future means a skewed or lying issuer.
  if (iat > Math.floor((opts.now ?? Date.now()) / 1000) + tolerance) {
    throw new TokenError("token_not_yet_valid", "iat is in the future");
  }
  return payload;
}

/**
 * Key sets built from JWKS documents, per document object: a caller that holds one JWKS (the
 * sentinel, from its file) would otherwise re-import its keys on every verification. The
 * document is read once; change keys by passing a new object.
 */
const localKeySets = new WeakMap<JSONWebKeySet, JWTVerifyGetKey>();

function keyInput(keys: VerificationKeys): JWTVerifyGetKey | CryptoKey | KeyObject {
  if (typeof keys === "object" && keys !== null && "keys" in keys && Array.isArray(keys.keys)) {
    let set = localKeySets.get(keys);
    if (set === undefined) {
      set = createLocalJWKSet(keys);
      localKeySets.set(keys, set);
    }
    return set;
  }
  return keys as JWTVerifyGetKey | CryptoKey | KeyObject;
}

function registered(p: JWTPayload) {
  return {
    iss: p.iss as string,
    aud: p.aud as string,
    sub: p.sub as string,
    jti: p.jti as string,
    iat: p.iat as number,
    exp: p.exp as number,
  };
}

function identityClaims(p: JWTPayload): IdentityClaims {
  const systemId = p["system_id"];
  const path = p["assigned_path"];
  const sid = p["sid"];
  const logicals = p["accepted_logicals"];
  const instanceId = p["instance_id"];
  if (!isSystemId(systemId) || p.sub !== systemId)
    throw new TokenError("token_invalid", "system_id is malformed or differs from sub");
  if (!isAssignedPath(path)) throw new TokenError("token_invalid", "assigned_path is malformed");
  if (typeof sid !== "string" || sid !== sidFromPath(path))
    throw new TokenError("token_invalid", "sid does not match assigned_path");
  if (!Array.isArray(logicals) || logicals.length > LIMITS.maxLogicals || !logicals.every(isGrantLogical)) {
    throw new TokenError("token_invalid", "accepted_logicals is malformed");
  }
  if (!isTokenId(instanceId)) throw new TokenError("token_invalid", "instance_id is malformed");
  const clientId = p["client_id"];
  if (clientId !== undefined && !isClientId(clientId))
    throw new TokenError("token_invalid", "client_id is malformed");
  return {
    ...registered(p),
    system_id: systemId,
    assigned_path: path,
    sid,
    accepted_logicals: [...(logicals as string[])],
    instance_id: instanceId,
    ...(clientId !== undefined ? { client_id: clientId } : {}),
  };
}

/** Maps jose's failures onto our codes; anything that is not a token defect means the keys could not be had. */
function mapJoseError(err: unknown): TokenError {
  if (err instanceof TokenError) return err;
  if (err instanceof errors.JWTExpired)
    return new TokenError("token_expired", "token has expired", { cause: err });
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case "aud":
        return new TokenError("token_wrong_audience", "token is for another audience", { cause: err });
      case "iss":
        return new TokenError("token_wrong_issuer", "token is from another issuer", { cause: err });
      case "typ":
        return new TokenError("token_wrong_type", "token is of another kind", { cause: err });
      case "nbf":
        return new TokenError("token_not_yet_valid", "token is not valid yet", { cause: err });
      case "iat":
        return new TokenError(
          err.reason === "check_failed" ? "token_not_yet_valid" : "token_invalid",
          "iat claim is invalid",
          { cause: err },
        );
      default:
        return new TokenError("token_invalid", `claim ${err.claim} is ${err.reason}`, { cause: err });
    }
  }
  if (
    err instanceof errors.JWSSignatureVerificationFailed ||
    err instanceof errors.JWSInvalid ||
    err instanceof errors.JWTInvalid ||
    err instanceof errors.JOSEAlgNotAllowed ||
    err instanceof errors.JOSENotSupported ||
    err instanceof errors.JWKSNoMatchingKey ||
    err instanceof errors.JWKSMultipleMatchingKeys
  ) {
    return new TokenError("token_invalid", "token signature or structure is invalid", { cause: err });
  }
  if (err instanceof TypeError) return new TokenError("token_invalid", "token is malformed", { cause: err });
  return new TokenError("token_keys_unavailable", "verification keys could not be obtained", { cause: err });
}
