import { type RunningService, startHttpService } from "@fame/http-service/server";
import { WorkGate } from "@fame/http-service/work-gate";
import { publicJwks } from "@fame/identity";
import { createLogger } from "@fame/logger";
import { type FabricState, openFabricState } from "@fame/state";
import { ClusterPlacement } from "./cluster-placement.js";
import { DEFAULT_WELCOME_ADMITTING, type WelcomeConfig } from "./config.js";
import { registerHello } from "./hello-route.js";
import { LogicalPolicy } from "./logical-policy.js";
import { type PlacementStrategy, StaticSentinelPlacement } from "./placement.js";

/** A hello is a handful of short strings; 16 KiB is generous and caps parsing work. */
const BODY_LIMIT = 16 * 1024;

export async function startWelcomeService(config: WelcomeConfig): Promise<RunningService> {
  const jwks = publicJwks([config.signingKey]);
  const cluster = config.cluster;
  const logger = config.logger ?? createLogger({ name: "welcome" });
  // A cluster's Welcome reads the sentinel registry from the shared state; one sentinel needs none.
  const state: FabricState | undefined = cluster
    ? await openFabricState(cluster.storage, logger, { name: "welcome", ...cluster.stateOptions })
    : undefined;
  const placement: PlacementStrategy =
    config.placement ??
    (cluster && state
      ? new ClusterPlacement(cluster.clusterId, cluster.nodeIdKey, state.registry)
      : new StaticSentinelPlacement(config.sentinelId, config.nodeIdKey));
  const gate = new WorkGate(config.admitting ?? DEFAULT_WELCOME_ADMITTING);
  let running: RunningService;
  try {
    running = await startHttpService({
      name: "welcome",
      host: config.host,
      port: config.port,
      tls: config.tls,
      ...(config.connectionLimits ? { connectionLimits: config.connectionLimits } : {}),
      bodyLimit: BODY_LIMIT,
      logger,
      health: () => {
        const admitting = { admitting: gate.inProgress, admitQueued: gate.queued };
        return cluster && state
          ? {
              issuer: config.issuer,
              cluster: cluster.clusterId,
              sentinels: state.registry.live().length,
              state: state.status.state,
              ...admitting,
            }
          : { issuer: config.issuer, sentinel: config.sentinelId, ...admitting };
      },
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
          placement,
          gate,
        });
      },
    });
  } catch (err) {
    await state?.close();
    throw err;
  }
  if (!state) return running;
  return {
    ...running,
    async close() {
      await running.close();
      await state.close();
    },
  };
}
