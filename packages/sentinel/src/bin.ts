#!/usr/bin/env node
import { ConfigError, readBool } from "@fame/config";
import { fetchWithTrust } from "@fame/http-service/client";
import { runMain } from "@fame/http-service/main";
import {
  loadPublicJwksFile,
  ReplayGuard,
  type VerificationKeys,
  verifyAttachTicket,
  verifyNodeCertificate,
} from "@fame/identity";
import { createLogger, type Logger } from "@fame/logger";
import { type FabricState, openFabricState, type StateBus } from "@fame/state";
import { type FameTracing, startTracing, TelemetrySettingError } from "@fame/telemetry";
import { createRemoteJWKSet, customFetch } from "jose";
import { AttachAuthority, type AttachVerifiers } from "./attach-authority.js";
import { DirectSentinelLinks } from "./cluster/direct-links.js";
import { MAX_HEADER_BYTES } from "./cluster/forward-frame.js";
import { BusSentinelLinks, type SentinelLinks } from "./cluster/sentinel-links.js";
import { OPEN_ACCESS } from "./policy/access-policy.js";
import { YamlAccessPolicy } from "./policy/yaml-access-policy.js";
import { type SentinelConfig, sentinelConfigFromEnv } from "./sentinel-config.js";
import { startSentinelServer } from "./sentinel-server.js";
import { SessionDirectory } from "./session-directory.js";
import { SharedState } from "./shared-state.js";
import { AFTLoadBalancerStickinessManager, parseStickinessConfig } from "./stickiness/index.js";

function welcomeKeys(config: SentinelConfig): VerificationKeys {
  if (config.welcomeJwksFile) {
    return loadPublicJwksFile(config.welcomeJwksFile, "FAME_WELCOME_JWKS_FILE");
  }
  return createRemoteJWKSet(new URL(config.welcomeJwksUrl!), {
    [customFetch]: fetchWithTrust({ ca: config.trustBundlePem, timeoutMs: 5000, maxBytes: 64 * 1024 }),
  });
}

function verifiersFor(config: SentinelConfig): AttachVerifiers {
  const keys = config.admissionProfile === "welcome" ? welcomeKeys(config) : undefined;
  const replay = new ReplayGuard({ maxEntries: 100_000 });
  return {
    async verifyTicket(ticket) {
      if (!keys) throw new Error("tickets are not used in this admission profile");
      const claims = await verifyAttachTicket(ticket, {
        keys,
        issuer: config.welcomeIssuer,
        audience: config.ticketAudience,
      });
      return {
        systemId: claims.system_id,
        instanceId: claims.instance_id,
        assignedPath: claims.assigned_path,
        acceptedLogicals: claims.accepted_logicals,
        clientId: claims.client_id,
        jti: claims.jti,
        exp: claims.exp,
      };
    },
    async verifyChain(x5c, expectedSystemId) {
      if (!config.trustBundlePem) throw new Error("no trust bundle configured");
      return verifyNodeCertificate({
        chain: x5c,
        trustBundlePem: config.trustBundlePem,
        trustDomain: config.trustDomain,
        expectedSystemId,
      });
    },
    firstUse: (jti, instanceId, exp) => replay.consume(jti, instanceId, exp) === "accepted",
  };
}

runMain(async () => {
  const config = sentinelConfigFromEnv();
  const log = createLogger({ name: "sentinel" });
  const tracing = await tracingFromEnv();
  // A cluster's shared state is open (caches filled) before the sentinel listens; a single
  // sentinel opens nothing and loads no NATS code.
  const fabric: FabricState | undefined =
    config.storage.profile === "memory"
      ? undefined
      : await openFabricState(config.storage, log, { name: `sentinel-${config.sentinelId}` });
  const shared = fabric === undefined ? undefined : new SharedState(fabric, log);
  const attach = new AttachAuthority({
    sentinelId: config.sentinelId,
    securityProfile: config.securityProfile,
    admissionProfile: config.admissionProfile,
    directToken: config.directToken,
    trustDomain: config.trustDomain,
    verifiers: verifiersFor(config),
    shared,
  });
  // The sticky table checks AFTs against the keys replicas attached with: it reads the
  // sentinel's session directory.
  const sessions = new SessionDirectory();
  const stickiness = new AFTLoadBalancerStickinessManager(
    parseStickinessConfig(config.stickiness ?? defaultStickiness(config)),
    { directory: sessions },
  );
  if (tracing !== undefined)
    log.info({ endpoint: tracing.endpoint, service: tracing.serviceName }, "exporting traces");
  const started = await startSentinelServer(config, {
    log,
    attach,
    stickiness,
    sessions,
    policy: config.accessPolicy ? new YamlAccessPolicy(config.accessPolicy) : OPEN_ACCESS,
    showEnvelopes: readBool(process.env["FAME_SHOW_ENVELOPES"], "FAME_SHOW_ENVELOPES", false),
    tracer: tracing?.tracer,
    shared,
    cluster:
      fabric?.bus === undefined
        ? undefined
        : { state: fabric, links: sentinelLinks(config, fabric, fabric.bus, log) },
  }).catch(async (err: unknown) => {
    await fabric?.close();
    throw err;
  });
  const running = fabric === undefined ? started : withStateClosed(started, fabric);
  if (tracing === undefined) return running;
  return {
    ...running,
    async close() {
      await running.close();
      // the route spans still buffered leave before the process does (bounded)
      await tracing.shutdown();
    },
  };
}, "sentinel");

/** direct links between sentinels (the default), or NATS subjects only */
function sentinelLinks(
  config: SentinelConfig,
  fabric: FabricState,
  bus: StateBus,
  log: Logger,
): SentinelLinks {
  if (!config.clusterDirectLinks) return new BusSentinelLinks(bus, config.sentinelId);
  return new DirectSentinelLinks({
    sentinelId: config.sentinelId,
    bus,
    registry: fabric.registry,
    trustBundlePem: config.trustBundlePem,
    // a forward header and one frame, which may be twice the frame limit on the wire (as for nodes)
    maxMessageBytes: config.maxFrameBytes * 2 + MAX_HEADER_BYTES + 1,
    log,
  });
}

/** closes the shared state once the sentinel has stopped (its last writes withdraw its records) */
function withStateClosed<S extends { close(): Promise<void> }>(running: S, fabric: FabricState): S {
  return {
    ...running,
    async close() {
      try {
        await running.close();
      } finally {
        await fabric.close();
      }
    },
  };
}

/** OTLP export when OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set; a malformed OTEL_* value exits 2 */
async function tracingFromEnv(): Promise<FameTracing | undefined> {
  try {
    return await startTracing({ serviceName: "fame-sentinel", tracerName: "@fame/sentinel" });
  } catch (err) {
    if (err instanceof TelemetrySettingError) throw new ConfigError(err.setting, err.reason);
    throw err;
  }
}

/** no stickiness block: the strictest level the security profile can support */
function defaultStickiness(config: SentinelConfig): Record<string, unknown> {
  // open nodes have no keys to sign AFTs with; the overlay profiles do
  const level = config.securityProfile === "open" ? "signed-optional" : "strict";
  return { type: "AFTLoadBalancerStickinessManager", security_level: level };
}
