import { type RunningService, startHttpService } from "@fame/http-service/server";
import { ClientRegistry } from "./clients.js";
import type { OAuth2Config } from "./config.js";
import { registerDiscovery } from "./discovery.js";
import { FailedAuthLimiter } from "./failed-auth-limiter.js";
import { registerFormParser } from "./form-body.js";
import { registerTokenEndpoint } from "./token-endpoint.js";

/** Token requests are a few short parameters; anything bigger is refused before parsing. */
const BODY_LIMIT = 8 * 1024;

/** Starts the dev OAuth2 authorization server (client_credentials only). */
export async function startOAuth2Service(config: OAuth2Config): Promise<RunningService> {
  const clients = new ClientRegistry(config.clients);
  const limiter = new FailedAuthLimiter({
    maxFailures: config.maxFailedAuthPerMinute ?? 10,
    windowMs: 60_000,
  });
  return startHttpService({
    name: "oauth2",
    host: config.host,
    port: config.port,
    tls: config.tls,
    ...(config.connectionLimits ? { connectionLimits: config.connectionLimits } : {}),
    bodyLimit: BODY_LIMIT,
    ...(config.logger ? { logger: config.logger } : {}),
    health: () => ({ issuer: config.issuer, clients: clients.size }),
    register(app, log) {
      registerFormParser(app);
      registerDiscovery(app, { issuer: config.issuer, signingKeys: [config.signingKey] });
      registerTokenEndpoint(app, {
        clients,
        limiter,
        signingKey: config.signingKey,
        issuer: config.issuer,
        audience: config.audience,
        tokenTtlSec: config.tokenTtlSec,
        log,
      });
    },
  });
}
