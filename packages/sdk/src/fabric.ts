import { randomBytes } from "node:crypto";
import { readBool, readInt } from "@fame/config";
import {
  AccessTokenCache,
  type Admission,
  admissionOptionsFromEnv,
  admitNode,
  CertificateRenewer,
  verifyNodeCertificate,
} from "@fame/identity";
import { createLogger, type Logger, logLevelFromEnv } from "@fame/logger";
import { base64urlDecode, logicalMatches, NODE_NAME_PATTERN, tryParseAddress } from "@fame/protocol";
import { ChannelManager, type ChannelSettings, DEFAULT_CHANNEL_SETTINGS } from "./channel/channel-manager.js";
import { type NodeConfig, nodeConfigFromEnv } from "./config/node-config.js";
import { type AttachPlan, FabricConnection } from "./connection/fabric-connection.js";
import type { LinkDialer } from "./connection/node-link.js";
import { NodeSigner } from "./connection/node-signer.js";
import { type KeyVetter, PeerKeyDirectory } from "./connection/peer-keys.js";
import { FabricNode } from "./fabric-node.js";
import type { DrainOutcome } from "./lifecycle/drain.js";
import { type NodeHost, registerNodeHost } from "./lifecycle/node-host.js";
import { type Drainable, disarmSignals, drainAndClose } from "./lifecycle/signal-drain.js";
import { NodeTelemetry } from "./node-telemetry.js";
import { setDefaultEndpoint } from "./rpc/default-endpoint.js";
import { RpcEndpoint, type RpcEndpointOptions } from "./rpc/endpoint.js";

export interface ConnectOptions {
  /**
   * The node's name, in logs and in the sentinel's status (`make status`); default
   * FAME_REPLICA_NAME / FAME_NODE_NAME, else "fame-node" in logs and none in the status
   */
  name?: string;
  /** settings; default from FAME_* env and FAME_CONFIG */
  config?: NodeConfig;
  /** logicals to request (overrides config) */
  logicals?: string[];
  logger?: Logger;
  rpc?: RpcEndpointOptions;
  channels?: Partial<ChannelSettings>;
  /** install as the default endpoint for serve()/remoteByAddress(); default true */
  installDefault?: boolean;
  /** opens the link to the sentinel; default a WebSocket (tests pass an in-memory one) */
  dial?: LinkDialer;
}

/** A live connection to the fabric: the RPC endpoint plus what sits under it. */
export interface Fabric {
  endpoint: RpcEndpoint;
  connection: FabricConnection;
  node: FabricNode;
  log: Logger;
  /** announce draining: the sentinel sends no new channels; existing ones keep working */
  drain(): void;
  /**
   * Graceful shutdown, what a served agent does on SIGTERM: drain(), keep serving pinned
   * clients until they go quiet (FAME_DRAIN_QUIET_MS) or FAME_DRAIN_TIMEOUT_MS passes, close.
   * For hosts that handle signals themselves (`serve(address, { drainOnSignal: false })`).
   */
  drainAndClose(): Promise<DrainOutcome>;
  close(): Promise<void>;
}

function randomSystemId(): string {
  return randomBytes(12).toString("base64url").replace(/[-_]/g, "x");
}

function strictVetter(config: NodeConfig): KeyVetter {
  return async (jwk, claimedSid) => {
    if (!jwk.x5c || !config.trustBundlePem) throw new Error("key without certificate chain");
    const node = await verifyNodeCertificate({
      chain: jwk.x5c,
      trustBundlePem: config.trustBundlePem,
      trustDomain: config.trustDomain,
    });
    if (!Buffer.from(node.publicKey).equals(Buffer.from(base64urlDecode(jwk.x)))) {
      throw new Error("key does not match its certificate");
    }
    if (node.sid !== claimedSid) throw new Error("certificate names another sid");
    return {
      sid: node.sid,
      notAfter: node.notAfter.getTime(),
      logicals: node.logicals,
      systemId: node.systemId,
      spiffeId: node.spiffeId,
      principal: node.principal,
    };
  };
}

/** overlay: raw keys, vouched for by the sentinel over its TLS link */
const overlayVetter: KeyVetter = async (_jwk, claimedSid) => ({
  sid: claimedSid,
  notAfter: Date.now() + 3_600_000,
});

function channelSettingsFromEnv(env: NodeJS.ProcessEnv): Partial<ChannelSettings> {
  return {
    maxMessages: readInt(env["FAME_CHANNEL_MAX_MESSAGES"], "FAME_CHANNEL_MAX_MESSAGES", {
      fallback: DEFAULT_CHANNEL_SETTINGS.maxMessages,
      min: 1,
      max: 2 ** 32,
    }),
    maxAgeMs:
      readInt(env["FAME_CHANNEL_MAX_AGE_SEC"], "FAME_CHANNEL_MAX_AGE_SEC", {
        fallback: DEFAULT_CHANNEL_SETTINGS.maxAgeMs / 1000,
        min: 1,
        max: 7 * 86_400,
      }) * 1000,
  };
}

/**
 * Connects this process to the fabric as configured (admission, attach,
 * signing, channels) and returns its RPC endpoint.
 */
export async function connectFabric(opts: ConnectOptions = {}): Promise<Fabric> {
  const config = opts.config ?? nodeConfigFromEnv();
  const name = opts.name ?? config.nodeName;
  // A node that serves logs at info; a client only warnings, unless FAME_LOG_LEVEL says otherwise
  // or FAME_SHOW_ENVELOPES asks for the envelope lines (logged at info).
  const quietClient =
    opts.logger === undefined &&
    !config.env["FAME_LOG_LEVEL"] &&
    !config.showEnvelopes &&
    (opts.logicals ?? config.requestedLogicals).length === 0;
  const log =
    opts.logger ??
    createLogger({ name: name ?? "fame-node", level: quietClient ? "warn" : logLevelFromEnv(config.env) });
  const logicals = opts.logicals ?? config.requestedLogicals;
  // tracing (OTEL_*) and the serve-time page (FAME_METRICS_PORT); undefined when neither is set
  const telemetry = await NodeTelemetry.fromEnv({
    env: config.env,
    serviceName: name ?? "fame-node",
    verbose: config.showEnvelopes,
    log,
  });
  const instanceId = `inst_${randomBytes(9).toString("base64url").replace(/[-_]/g, "x")}`;
  const fixedSigner = config.admissionProfile === "welcome" ? undefined : NodeSigner.generate();
  const systemId = config.nodeId ?? randomSystemId();
  // shown in the sentinel's status when it is a valid node name (a log name may be anything)
  const statusName = name !== undefined && NODE_NAME_PATTERN.test(name) ? name : undefined;

  const tokenCache = new AccessTokenCache();
  let lastAdmission: Admission | undefined;
  /** admission for this node; with `previous`, its key and certificate are kept until half-life */
  const admit = (previous: Admission | undefined): Promise<Admission> =>
    admitNode({
      ...admissionOptionsFromEnv(config.env),
      instanceId,
      requestedLogicals: logicals,
      trustDomain: config.trustDomain,
      logger: log,
      tokenCache,
      ...(previous ? { previous } : {}),
    });
  const plan = async (): Promise<AttachPlan> => {
    if (config.admissionProfile !== "welcome") {
      return {
        url: config.sentinelUrl,
        systemId,
        instanceId,
        attachTicket: config.attachToken,
        logicals,
        signer: fixedSigner!,
        name: statusName,
      };
    }
    // A ticket is single use: every (re)attach runs admission again, with the kept token and,
    // while Welcome names the same identity, the kept key and certificate (until half-life).
    const admission = await admit(lastAdmission);
    lastAdmission = admission;
    return {
      url: admission.transportUrl,
      // a cluster's other sentinels: where the node goes when this one is unreachable
      urls: admission.transportUrls,
      systemId: admission.systemId,
      instanceId,
      attachTicket: admission.attachTicket,
      logicals: admission.acceptedLogicals,
      signer: new NodeSigner(admission.seed, admission.x5c),
      name: statusName,
      ticketExpiresAt: admission.ticketExpiresAt.getTime(),
    };
  };

  const peerKeys = new PeerKeyDirectory(
    config.securityProfile === "strict-overlay" ? strictVetter(config) : overlayVetter,
  );
  const servesAddress = (kid: string | undefined, address: string): boolean => {
    if (config.securityProfile !== "strict-overlay") return true;
    const key = kid ? peerKeys.get(kid) : undefined;
    const parsed = tryParseAddress(address);
    if (!key?.logicals || !parsed || !("logical" in parsed)) return false;
    return key.logicals.some((pattern) => logicalMatches(pattern, parsed.logical));
  };
  const node = new FabricNode(
    {
      connection: (events) =>
        new FabricConnection(
          {
            securityProfile: config.securityProfile,
            plan,
            trustBundlePem: config.trustBundlePem,
            peerKeys,
            log,
            showEnvelopes: config.showEnvelopes,
            binaryRecords: config.binaryRecords,
            linkBatch: config.linkBatch,
            poolBatch: config.poolBatch,
            allowInsecureTransport: config.devInsecureHttp,
            freshness: { skewMs: config.maxClockSkewMs },
            startWaitMs: config.startWaitMs,
            ...(config.reconnectMaxAttempts === 0
              ? {}
              : { reconnect: { maxAttempts: config.reconnectMaxAttempts }, failProcessOnGiveUp: true }),
          },
          events,
          opts.dial,
        ),
      channels: (connection) =>
        new ChannelManager(
          connection,
          {
            ...DEFAULT_CHANNEL_SETTINGS,
            ...channelSettingsFromEnv(config.env),
            idleMs: config.channelIdleMs,
            maxPerPeer: config.maxChannelsPerPeer,
            maxAccepted: config.maxChannelsAccepted,
            maxPerPrincipal: config.maxChannelsPerPrincipal,
            ...opts.channels,
          },
          log,
          servesAddress,
          undefined,
          (sid) => peerKeys.identityOf(sid),
        ),
      endpoint: (outbound) =>
        new RpcEndpoint(outbound, {
          defaultTimeoutMs: config.callTimeoutMs,
          retry: config.retry,
          callerShare: config.callerSharePct / 100,
          principalShare: config.principalSharePct / 100,
          log,
          ...telemetry?.rpcOptions(),
          ...opts.rpc,
        }),
    },
    {
      encryption: config.encryptionLevel,
      echoAft: readBool(config.env["FAME_CHANNEL_ECHO_AFT"], "FAME_CHANNEL_ECHO_AFT", false),
      // one sealed record per burst of messages on a channel (docs/performance.md); off = one per message
      coalesce: readBool(config.env["FAME_CHANNEL_COALESCE"], "FAME_CHANNEL_COALESCE", true),
      // a call waits out a short sentinel outage, but never for most of its own timeout
      reconnectWaitMs: Math.min(5000, Math.floor(config.callTimeoutMs / 2)),
      identify: (sid) => peerKeys.identityOf(sid),
    },
    log,
  );
  const { connection, channels, endpoint } = node;
  try {
    // ready while attached to a sentinel (a supervisor's readiness probe)
    await telemetry?.listen(() =>
      connection.state === "attached" ? undefined : `connection ${connection.state}`,
    );
    await connection.start();
  } catch (err) {
    await telemetry?.close();
    throw err;
  }
  // Certificates expire (FAME_CA_CERT_TTL_SEC, an hour by default) and a node may stay
  // attached far longer: past expiry its peers refused every new channel it opened or accepted.
  // At about half its lifetime a new key and certificate for the same identity are obtained and
  // presented to the sentinel over the live link, with nothing in flight disturbed.
  const renewer =
    lastAdmission === undefined || config.securityProfile !== "strict-overlay"
      ? undefined
      : new CertificateRenewer({
          current: lastAdmission,
          // no `previous`: a new key and certificate, whatever the old one's age
          renew: () => admit(undefined),
          onRenewed: async (next) => {
            const before = lastAdmission;
            // a reattach from now on presents the renewed certificate (and keeps it until half-life)
            lastAdmission = next;
            if (
              before !== undefined &&
              (next.systemId !== before.systemId || next.assignedPath !== before.assignedPath)
            ) {
              log.warn(
                { systemId: next.systemId },
                "the renewed certificate names another identity: it is used from the next attach",
              );
              return;
            }
            try {
              await connection.presentKey(new NodeSigner(next.seed, next.x5c));
              log.info({ notAfter: next.notAfter.toISOString() }, "renewed key in use");
            } catch (err) {
              log.warn(
                { err: (err as Error).message },
                "renewed key not presented: the next attach presents it",
              );
            }
          },
          logger: log,
        });
  renewer?.start();
  if (opts.installDefault !== false) setDefaultEndpoint(endpoint);
  const fabric: Fabric = {
    endpoint,
    connection,
    node,
    log,
    drain() {
      channels.drain();
      connection.drain();
    },
    drainAndClose: () => drainAndClose(host),
    async close() {
      renewer?.stop();
      disarmSignals(host);
      endpoint.close();
      channels.close();
      await connection.close();
      await telemetry?.close();
    },
  };
  const host: NodeHost & Drainable = {
    log,
    drainSettings: { timeoutMs: config.drainTimeoutMs, quietMs: config.drainQuietMs },
    drain: () => fabric.drain(),
    activeCalls: () => endpoint.activeCalls,
    lastActivityAt: () => node.lastActivityAt,
    close: () => fabric.close(),
    serving() {
      if (quietClient && log.level === "warn") log.level = "info";
    },
  };
  registerNodeHost(endpoint, host);
  return fabric;
}

/** Runs `fn` with a connected fabric installed as the default, and disconnects after. */
export async function withFabric<T>(
  fn: (fabric: Fabric) => Promise<T>,
  opts: ConnectOptions = {},
): Promise<T> {
  const fabric = await connectFabric(opts);
  try {
    return await fn(fabric);
  } finally {
    await fabric.close();
    setDefaultEndpoint(undefined);
  }
}
