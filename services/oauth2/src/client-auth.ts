import { OAuthError } from "./oauth-error.js";

export interface PresentedCredentials {
  clientId: string;
  clientSecret: string;
  method: "client_secret_basic" | "client_secret_post";
}

const MAX_CREDENTIAL_LENGTH = 1024;

/**
 * Finds the client credentials in a token request. Exactly one method may be
 * used (RFC 6749 §2.3); Basic credentials are form-urlencoded before base64
 * (§2.3.1), so they are decoded after splitting on the first colon.
 * Returns undefined when the request carries no client authentication.
 */
export function presentedCredentials(
  authorization: string | undefined,
  body: Record<string, string | undefined>,
): PresentedCredentials | undefined {
  const postId = body["client_id"];
  const postSecret = body["client_secret"];
  if (authorization !== undefined) {
    const m = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(authorization.trim());
    if (!m || authorization.length > 4 * MAX_CREDENTIAL_LENGTH) {
      throw new OAuthError(
        "invalid_client",
        "Authorization must be Basic client credentials",
        401,
        basicChallenge,
      );
    }
    if (postSecret !== undefined)
      throw new OAuthError("invalid_request", "use one client authentication method, not two");
    const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) throw new OAuthError("invalid_client", "malformed Basic credentials", 401, basicChallenge);
    const clientId = formDecode(decoded.slice(0, colon));
    const clientSecret = formDecode(decoded.slice(colon + 1));
    if (clientId === undefined || clientSecret === undefined || clientId === "") {
      throw new OAuthError("invalid_client", "malformed Basic credentials", 401, basicChallenge);
    }
    if (postId !== undefined && postId !== clientId) {
      throw new OAuthError("invalid_request", "client_id in the body differs from the authenticated client");
    }
    return { clientId, clientSecret, method: "client_secret_basic" };
  }
  if (postId === undefined && postSecret === undefined) return undefined;
  if (!postId || postSecret === undefined) {
    throw new OAuthError("invalid_client", "client_secret_post needs client_id and client_secret");
  }
  if (postId.length > MAX_CREDENTIAL_LENGTH || postSecret.length > MAX_CREDENTIAL_LENGTH) {
    throw new OAuthError("invalid_client", "client credentials too long");
  }
  return { clientId: postId, clientSecret: postSecret, method: "client_secret_post" };
}

export const basicChallenge = { "www-authenticate": 'Basic realm="fame-oauth2", charset="UTF-8"' };

/** application/x-www-form-urlencoded decoding of one value; undefined on a bad escape. */
function formDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s.replace(/\+/g, " "));
  } catch {
    return undefined;
  }
}
