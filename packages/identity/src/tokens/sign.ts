import { sidFromPath } from "@fame/protocol";
import { SignJWT } from "jose";
import {
  type AccessTokenClaims,
  CA_GRANT_AUDIENCE,
  type IdentityClaims,
  MAX_TICKET_TTL_SEC,
  type NodeIdentity,
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
  SCOPE_TOKEN_PATTERN,
} from "./identifiers.js";
import type { SigningKey } from "./keys.js";

export interface SignedToken<C> {
  token: string;
  claims: C;
}

interface CommonSignInput {
  issuer: string;
  audience: string;
  ttlSec: number;
  /** ms since epoch; default Date.now() (tests pin it) */
  now?: number;
  /** default: 128 random bits, base64url */
  jti?: string;
}

export interface AccessTokenInput extends CommonSignInput {
  clientId: string;
  scopes: readonly string[];
}

export async function signAccessToken(
  key: SigningKey,
  input: AccessTokenInput,
): Promise<SignedToken<AccessTokenClaims>> {
  if (!isClientId(input.clientId)) throw new TokenError("token_invalid", "clientId is not a valid client id");
  if (input.scopes.length === 0 || input.scopes.length > LIMITS.maxScopes) {
    throw new TokenError("token_invalid", `scopes must hold 1–${LIMITS.maxScopes} entries`);
  }
  for (const s of input.scopes) {
    if (!SCOPE_TOKEN_PATTERN.test(s)) throw new TokenError("token_invalid", "scope token is malformed");
  }
  const scope = [...new Set(input.scopes)].join(" ");
  // The verifier's own parser too, so a token issued here is never refused later for its scope claim.
  const scopes = parseScope(scope);
  if (scopes === undefined) throw new TokenError("token_invalid", "scope claim is too long");
  const base = registered(input, input.clientId, 24 * 3600);
  const wire = { ...base, client_id: input.clientId, scope };
  const token = await sign(key, "accessToken", wire);
  return { token, claims: { ...wire, scopes } };
}

export interface IdentityTokenInput extends CommonSignInput, NodeIdentity {}

/** Welcome → sentinel: proves the node was admitted with this identity. */
export function signAttachTicket(
  key: SigningKey,
  input: IdentityTokenInput,
): Promise<SignedToken<IdentityClaims>> {
  return signIdentityToken(key, "attachTicket", input);
}

/** Welcome → CA: authorises one certificate for this identity. Audience is always `fame-ca`. */
export function signCaGrant(
  key: SigningKey,
  input: Omit<IdentityTokenInput, "audience"> & { audience?: string },
): Promise<SignedToken<IdentityClaims>> {
  return signIdentityToken(key, "caGrant", { ...input, audience: input.audience ?? CA_GRANT_AUDIENCE });
}

async function signIdentityToken(
  key: SigningKey,
  kind: "attachTicket" | "caGrant",
  input: IdentityTokenInput,
): Promise<SignedToken<IdentityClaims>> {
  if (!isSystemId(input.systemId)) throw new TokenError("token_invalid", "systemId is malformed");
  if (!isAssignedPath(input.assignedPath)) throw new TokenError("token_invalid", "assignedPath is malformed");
  if (!isTokenId(input.instanceId)) throw new TokenError("token_invalid", "instanceId is malformed");
  const logicals = input.acceptedLogicals;
  if (logicals.length > LIMITS.maxLogicals || !logicals.every(isGrantLogical)) {
    throw new TokenError("token_invalid", "acceptedLogicals are malformed");
  }
  if (input.clientId !== undefined && !isClientId(input.clientId))
    throw new TokenError("token_invalid", "clientId is not a valid client id");
  const claims: IdentityClaims = {
    ...registered(input, input.systemId, MAX_TICKET_TTL_SEC),
    system_id: input.systemId,
    assigned_path: input.assignedPath,
    sid: sidFromPath(input.assignedPath),
    accepted_logicals: [...logicals],
    instance_id: input.instanceId,
    ...(input.clientId !== undefined ? { client_id: input.clientId } : {}),
  };
  return { token: await sign(key, kind, claims), claims };
}

function registered(input: CommonSignInput, sub: string, maxTtlSec: number) {
  if (!Number.isSafeInteger(input.ttlSec) || input.ttlSec < 1 || input.ttlSec > maxTtlSec) {
    throw new TokenError("token_invalid", `ttlSec must be an integer in 1..${maxTtlSec}`);
  }
  if (input.jti !== undefined && !isTokenId(input.jti))
    throw new TokenError("token_invalid", "jti is malformed");
  const iat = Math.floor((input.now ?? Date.now()) / 1000);
  return {
    iss: input.issuer,
    aud: input.audience,
    sub,
    jti: input.jti ?? newJti(),
    iat,
    exp: iat + input.ttlSec,
  };
}

function sign(key: SigningKey, kind: TokenKind, claims: object): Promise<string> {
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: TOKEN_ALG, typ: TOKEN_TYPES[kind], kid: key.kid })
    .sign(key.privateKey);
}

export function newJti(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return Buffer.from(bytes).toString("base64url");
}
