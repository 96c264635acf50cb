import { publicJwks, type SigningKey } from "@fame/identity";
import type { FastifyInstance } from "fastify";
import { TOKEN_PATH } from "./token-endpoint.js";

export const JWKS_PATH = "/.well-known/jwks.json";

/** JWKS and a minimal OpenID/OAuth metadata document so standard clients can find the token endpoint and keys. */
export function registerDiscovery(
  app: FastifyInstance,
  opts: { issuer: string; signingKeys: SigningKey[] },
): void {
  const jwks = publicJwks(opts.signingKeys);
  const metadata = {
    issuer: opts.issuer,
    token_endpoint: `${opts.issuer}${TOKEN_PATH}`,
    jwks_uri: `${opts.issuer}${JWKS_PATH}`,
    grant_types_supported: ["client_credentials"],
    token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
    id_token_signing_alg_values_supported: ["EdDSA"],
    token_endpoint_auth_signing_alg_values_supported: ["EdDSA"],
    response_types_supported: ["token"],
  };
  app.get(JWKS_PATH, async (_req, reply) => reply.header("cache-control", "public, max-age=300").send(jwks));
  app.get("/.well-known/openid-configuration", async (_req, reply) =>
    reply.header("cache-control", "public, max-age=300").send(metadata),
  );
  app.get("/.well-known/oauth-authorization-server", async () => metadata);
}
