import { type RunningService, startHttpService } from "@fame/http-service/server";
import { publicJwks } from "@fame/identity";
import type { WelcomeConfig } from "./config.js";
import { registerHello } from "./hello-route.js";
import { LogicalPolicy } from "./logical-policy.js";
import { StaticSentinelPlacement } from "./placement.js";

/** A hello is a handful of short strings; 16 KiB is generous and caps parsing work. */
const BODY_LIMIT = 16 * 1024;

export async function startWelcomeService(config: WelcomeConfig): Promise<RunningService> {
  const jwks = publicJwks([config.signingKey]);
  return startHttpService({
    name: "welcome",
    host: config.host,
    port: config.port,
    tls: config.tls,
    bodyLimit: BODY_LIMIT,
    ...(config.logger ? { logger: config.logger } : {}),
    health: () => ({ issuer: config.issuer, sentinel: config.sentinelId }),
    register(app) {
      app.get("/.well-known/jwks.json", async (_req, reply) =>
        reply.header("cache-control", "public, max-age=300").send(jwks),
      );
      registerHello(app, {
        issuer: config.issuer,
        signingKey: config.signingKey,
        accessToken: config.accessToken,
        sentinelAudience: config.sentinelAudience,
        ticketTtlSec: config.ticketTtlSec,
        caGrantTtlSec: config.caGrantTtlSec,
        transportUrl: config.transportUrl,
        caSignUrl: config.caSignUrl,
        allowClientSystemId: config.allowClientSystemId ?? false,
        policy: new LogicalPolicy({
          allowedDomains: config.allowedDomains,
          wildcardPatterns: config.wildcardPatterns,
          access: config.accessPolicy,
        }),
        placement: config.placement ?? new StaticSentinelPlacement(config.sentinelId),
      });
    },
  });
}
