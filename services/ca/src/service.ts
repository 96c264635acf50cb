import { type RunningService, startHttpService } from "@fame/http-service/server";
import { WorkGate } from "@fame/http-service/work-gate";
import type { Logger } from "@fame/logger";
import type { FastifyInstance } from "fastify";
import { type CaConfig, checkIssuer, DEFAULT_CA_SIGNING } from "./config.js";
import { GrantUseCounter } from "./grant-uses.js";
import { registerSignRoute } from "./sign-route.js";

export const BUNDLE_PATH = "/fame/v1/ca/bundle";
/** A CSR is at most ~40 KiB of PEM; JSON framing fits well within 64 KiB. */
export const CA_BODY_LIMIT = 64 * 1024;

export interface CaApp {
  /** Adds the CA routes to a fastify instance (what startHttpService's `register` takes). */
  register(app: FastifyInstance, log: Logger): void;
  health(): Record<string, unknown>;
}

/**
 * The CA's routes and state, independent of the listening server, so tests can mount them
 * in-process. Checks that issuer key, certificate, bundle and trust domain fit together.
 */
export async function buildCaApp(config: CaConfig): Promise<CaApp> {
  await checkIssuer(config);
  const grantUses = new GrantUseCounter();
  const gate = new WorkGate(config.signing ?? DEFAULT_CA_SIGNING);
  let issued = 0;
  return {
    register(app, log) {
      app.get(BUNDLE_PATH, async (_req, reply) =>
        reply
          .type("application/x-pem-file")
          .header("cache-control", "max-age=300")
          .send(config.trustBundlePem),
      );
      registerSignRoute(app, {
        config,
        grantUses,
        log,
        gate,
        onIssued: () => {
          issued++;
        },
      });
    },
    health: () => ({
      trustDomain: config.trustDomain,
      issued,
      grantsTracked: grantUses.size,
      signing: gate.inProgress,
      signQueued: gate.queued,
    }),
  };
}

/** Starts the dev CA (TLS unless config.tls is null). */
export async function startCaService(config: CaConfig): Promise<RunningService> {
  const ca = await buildCaApp(config);
  return startHttpService({
    name: "ca",
    host: config.host,
    port: config.port,
    tls: config.tls,
    ...(config.connectionLimits ? { connectionLimits: config.connectionLimits } : {}),
    bodyLimit: CA_BODY_LIMIT,
    ...(config.logger ? { logger: config.logger } : {}),
    health: ca.health,
    register: (app, log) => ca.register(app, log),
  });
}
