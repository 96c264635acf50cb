import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { type RunningService, startHttpService } from "@fame/http-service/server";
import type { Logger } from "@fame/logger";
import type { FastifyReply, FastifyRequest } from "fastify";
import { type WebSocket, WebSocketServer } from "ws";
import { CLUSTER_LINK_PATH } from "./cluster/direct-links.js";
import { ClusterDrain, type DrainAction } from "./cluster-drain.js";
import { DashboardAssets } from "./dashboard/dashboard-assets.js";
import { DashboardFeed } from "./dashboard/dashboard-feed.js";
import { registerDashboard } from "./dashboard/dashboard-routes.js";
import { AttachGate } from "./limits/attach-gate.js";
import { LogThrottle } from "./limits/log-throttle.js";
import { LinkBatcher } from "./link-batcher.js";
import { gateMetricFamilies, PROMETHEUS_CONTENT_TYPE, renderPrometheus } from "./metrics/index.js";
import { type OperatorEndpoint, operatorAccess } from "./operator-access.js";
import { CLOSE, Sentinel, type SentinelDeps } from "./sentinel.js";
import type { SentinelConfig } from "./sentinel-config.js";
import { SentinelPresence } from "./sentinel-presence.js";

export const ATTACH_PATH = "/fame/v1/attach/ws/downstream";
export const STATUS_PATH = "/fame/v1/status";
/** Prometheus text; same access rule as the status page (see operator-access.ts) */
export const METRICS_PATH = "/metrics";
/** POST: the operator drains a node (no new sessions or channels) */
export const DRAIN_PATH = "/fame/v1/nodes/:systemId/drain";
/** POST: the operator takes a node out of its drain (not a node draining itself) */
export const RESUME_PATH = "/fame/v1/nodes/:systemId/resume";
/** how often due health probes are sent and silent ones timed out */
const HEALTH_TICK_MS = 200;
/** single-active leases (3 s) are renewed every second */
const ELECTION_TICK_MS = 1000;
const SYSTEM_ID = /^[A-Za-z0-9_]{1,64}$/;

export interface RunningSentinel extends RunningService {
  sentinel: Sentinel;
  /** wss:// (or ws:// in dev) URL nodes attach to */
  attachUrl: string;
}

function gateBody(reason: string): string {
  return JSON.stringify({ error: "rate_limited", error_description: reason });
}

/**
 * The sentinel process: a WSS listener for node attach on a fastify HTTPS
 * server that also answers /health and the read-only status page.
 */
export async function startSentinelServer(
  config: SentinelConfig,
  deps: Omit<SentinelDeps, "log"> & { log: Logger },
): Promise<RunningSentinel> {
  const sentinel = new Sentinel(config, deps);
  const log = deps.log;
  // in a cluster the operator may drain a node through any sentinel: its own is asked over NATS
  const fabric = deps.shared?.fabric;
  const clusterDrain =
    fabric?.bus === undefined
      ? undefined
      : new ClusterDrain({
          bus: fabric.bus,
          directory: fabric.directory,
          clusterId: fabric.clusterId,
          sentinelId: config.sentinelId,
          drainLocal: (systemId) => sentinel.drainNode(systemId, "operator"),
          resumeLocal: (systemId) => sentinel.resumeNode(systemId),
          stalledLocal: (systemId, address, by) => sentinel.ejectReported(address, systemId, by),
          memoLocal: (systemId, drained) => sentinel.applyDrainMemo(systemId, drained),
          ejectedLocal: (systemId, address, forMs, strikes) =>
            sentinel.rememberEjection(address, systemId, forMs, strikes),
          log,
        });
  clusterDrain?.listen();
  if (clusterDrain !== undefined) {
    sentinel.drainMemo = (systemId, drained) => clusterDrain.announce(systemId, drained);
    sentinel.ejectionReporter = (address, systemId, forMs, strikes) =>
      clusterDrain.announceEjection(systemId, address, forMs, strikes);
  }
  if (clusterDrain !== undefined)
    sentinel.stallReporter = (address, nodeId) => void clusterDrain.reportStall(nodeId, address);
  // ws refuses frames above maxPayload by closing (1009) before buffering them;
  // frames between the protocol limit and this get a typed nack instead.
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: config.maxFrameBytes * 2,
    perMessageDeflate: false,
  });
  let sweeper: NodeJS.Timeout | undefined;
  const gate = new AttachGate({
    ratePerMin: config.attachRatePerMin,
    maxPending: config.maxPendingAttach,
    maxPendingPerIp: config.maxPendingAttachPerIp,
  });
  const gateLog = new LogThrottle();
  const gateCounters = { rateLimited: 0, pendingFull: 0 };
  /** operator requests refused for a missing or wrong admin token */
  const operatorCounters = { refused: 0 };
  const operatorLog = new LogThrottle();
  // samples the sentinel once a second only while a dashboard page is connected
  const dashboardFeed = new DashboardFeed({ read: () => sentinel.dashboardReading() });

  const svc = await startHttpService({
    name: "sentinel",
    host: config.host,
    port: config.port,
    tls: config.tls,
    ...(config.connectionLimits ? { connectionLimits: config.connectionLimits } : {}),
    logger: log,
    health: () => ({ sessions: sentinel.sessionCount, state: stateHealth() }),
    // a cluster sentinel cut off from its shared state refuses every attach and new channel:
    // a load balancer should send new connections elsewhere (its attached nodes keep working)
    notReady: () =>
      deps.shared !== undefined && deps.shared.fabric.status.state === "unavailable"
        ? "the cluster's shared state (NATS) is unreachable: attaches and new channels are refused"
        : undefined,
    register: (app) => {
      const rule = { token: config.adminToken, profile: config.securityProfile };
      /** undefined when allowed; otherwise the refusal, already sent */
      const refused = (endpoint: OperatorEndpoint, req: FastifyRequest, reply: FastifyReply) => {
        const verdict = operatorAccess(
          endpoint,
          { authorization: req.headers.authorization, remoteAddress: req.socket.remoteAddress },
          rule,
        );
        if (verdict.ok) return undefined;
        operatorCounters.refused++;
        if (operatorLog.hit())
          log.warn(
            {
              remote: req.socket.remoteAddress,
              path: req.url,
              status: verdict.status,
              total: operatorLog.total,
            },
            "operator request refused",
          );
        if (verdict.status === 401) reply.header("www-authenticate", "Bearer");
        return reply.status(verdict.status).send(verdict.body);
      };
      // polled (fame status, make status, Prometheus): requests logged at warn and above only
      app.get(STATUS_PATH, { logLevel: "warn" }, async (req: FastifyRequest, reply) => {
        if (refused("read", req, reply)) return reply;
        const mem = process.memoryUsage();
        return {
          ...sentinel.status(),
          state: deps.shared?.describe() ?? { backend: "memory", status: "ok" },
          attachGate: {
            ...gateCounters,
            trackedIps: gate.trackedIps,
            // before the upgrade, counted by the HTTP service (see @fame/http-service/handshake-gate)
            handshaking: svc.handshakes.handshaking,
            handshakesRefused: svc.handshakes.handshakesRefused,
            handshakeTimeouts: svc.handshakes.handshakeTimeouts,
          },
          operator: { ...operatorCounters },
          memory: { rss: mem.rss, heapUsed: mem.heapUsed, external: mem.external },
        };
      });
      app.get(METRICS_PATH, { logLevel: "warn" }, async (req: FastifyRequest, reply) => {
        if (refused("read", req, reply)) return reply;
        const gateText = renderPrometheus(
          gateMetricFamilies({ handshakes: svc.handshakes, ...gateCounters }),
        );
        const text = sentinel.metricsText() + gateText + (deps.shared?.metricsText() ?? "");
        return reply.header("content-type", PROMETHEUS_CONTENT_TYPE).send(text);
      });
      /** drain or resume a node: here, or through its own sentinel in a cluster (202) */
      const nodeAction =
        (action: DrainAction) =>
        async (req: FastifyRequest<{ Params: { systemId: string } }>, reply: FastifyReply) => {
          if (refused("drain", req, reply)) return reply;
          const { systemId } = req.params;
          if (!SYSTEM_ID.test(systemId)) {
            return reply.status(400).send({ error: "bad_request", error_description: "malformed system id" });
          }
          // `unchanged`: it already was as asked (the operator's tools say so)
          if (action === "drain") {
            const was = sentinel.nodeDraining(systemId);
            if (sentinel.drainNode(systemId, "operator"))
              return { ok: true, systemId, draining: true, unchanged: was === true };
          }
          if (action === "resume") {
            const outcome = sentinel.resumeNode(systemId);
            if (outcome === "resumed") return { ok: true, systemId, draining: false, unchanged: false };
            if (outcome === "forgotten") {
              // not attached here: its own sentinel, if any, resumes it; else the memory was all
              const owner = clusterDrain?.request(systemId, action);
              if (owner !== undefined)
                return reply.status(202).send({ ok: true, systemId, draining: false, sentinelId: owner });
              return { ok: true, systemId, draining: false, unchanged: false };
            }
            if (outcome === "not_draining") return { ok: true, systemId, draining: false, unchanged: true };
            if (outcome === "draining_itself") {
              return reply.status(409).send({
                error: "conflict",
                error_description: "the node is draining itself (it is shutting down): it cannot be resumed",
              });
            }
          }
          if (clusterDrain !== undefined && deps.shared?.available === false) {
            return reply.status(503).send({
              error: "state_unavailable",
              error_description: `the cluster's shared state is unreachable: ${action} the node at its own sentinel`,
            });
          }
          const owner = clusterDrain?.request(systemId, action);
          if (owner === undefined) {
            return reply
              .status(404)
              .send({ error: "not_found", error_description: "no attached node by that id" });
          }
          // accepted: the node's own sentinel does it; its directory record then says so
          return reply
            .status(202)
            .send({ ok: true, systemId, draining: action === "drain", sentinelId: owner });
        };
      app.post<{ Params: { systemId: string } }>(DRAIN_PATH, nodeAction("drain"));
      app.post<{ Params: { systemId: string } }>(RESUME_PATH, nodeAction("resume"));
      registerDashboard(app, { feed: dashboardFeed, assets: DashboardAssets.load(), log, refused });
      // Defined out here: a listener created inside the upgrade handler would share its closure
      // context, which holds `req` for onSocket, and keep each connection's request (headers,
      // streams) alive as long as its socket (~1.5 KiB of heap per attached node).
      const upgradeSocketError = (err: Error) => log.debug({ err: err.message }, "upgrade socket error");
      app.server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        // After an upgrade event the socket's errors are ours to handle; unhandled, one reset would crash us.
        socket.on("error", upgradeSocketError);
        const path = (req.url ?? "").split("?")[0];
        const links = deps.cluster?.links;
        if (path === CLUSTER_LINK_PATH && links?.acceptUpgrade !== undefined) {
          // a peer sentinel's direct link: authenticated by a token heard on NATS, not by the attach gate
          links.acceptUpgrade(req, socket, head);
          return;
        }
        if (path !== ATTACH_PATH) {
          socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n");
          return;
        }
        // Refused before the upgrade: a flood costs no session, timer or frame parsing.
        const verdict = gate.check(req.socket.remoteAddress, sentinel.pendingAttaches);
        if (!verdict.ok) {
          if (verdict.status === 429) gateCounters.rateLimited++;
          else gateCounters.pendingFull++;
          if (gateLog.hit())
            log.warn(
              { remote: verdict.key, status: verdict.status, reason: verdict.reason, total: gateLog.total },
              "attach refused before upgrade",
            );
          const text = verdict.status === 429 ? "Too Many Requests" : "Service Unavailable";
          const body = gateBody(verdict.reason);
          socket.end(
            `HTTP/1.1 ${verdict.status} ${text}\r\nRetry-After: ${verdict.retryAfterSec}\r\n` +
              "Content-Type: application/json\r\nConnection: close\r\n" +
              `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
          );
          return;
        }
        wss.handleUpgrade(req, socket, head, (ws) => onSocket(ws, req));
      });
    },
  });

  function stateHealth(): Record<string, unknown> {
    const shared = deps.shared;
    if (shared === undefined) return { backend: "memory", status: "ok" };
    return { backend: shared.fabric.profile, status: shared.fabric.status.state };
  }

  const receiveFailed = (err: unknown): void => {
    log.error({ err }, "receive failed");
  };

  function onSocket(ws: WebSocket, req: IncomingMessage): void {
    const remote = `${req.socket.remoteAddress ?? "?"}:${req.socket.remotePort ?? "?"}`;
    // Frames sent in one burst (e.g. the answers to one read's worth of requests) leave in
    // one TLS write, and as link batches once the node offers them (link-batcher.ts).
    const out = new LinkBatcher(req.socket, (data) => ws.send(data, { binary: false }));
    const session = sentinel.open({
      send: (data) => out.send(data),
      batchTo: (maxEntries, maxBytes) => out.batchTo(maxEntries, maxBytes),
      sendBinary: (data) => {
        out.beforeBinary();
        ws.send(data, { binary: true });
      },
      close: (code, reason) => {
        out.flush();
        ws.close(code, reason.slice(0, 120));
      },
      get bufferedAmount() {
        return ws.bufferedAmount;
      },
      remote,
    });
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      // binary messages are sealed records, from a node that announced them at attach only
      if (isBinary && !session.binaryRecords) {
        session.link.close(CLOSE.policy, "text frames only");
        sentinel.close(session, "binary frame");
        return;
      }
      // a bug handling one frame is logged, never thrown into ws (which would end every connection)
      try {
        sentinel.receive(session, data, isBinary)?.catch(receiveFailed);
      } catch (err) {
        receiveFailed(err);
      }
    });
    ws.on("close", (code) => sentinel.close(session, `socket closed (${code})`));
    ws.on("error", (err) => {
      log.warn({ remote, err: err.message }, "socket error");
      sentinel.close(session, "socket error");
    });
  }

  sweeper = setInterval(() => sentinel.sweep(), Math.max(100, Math.floor(config.heartbeatMs / 2)));
  sweeper.unref();
  const healthTicker = sentinel.affinity.health
    ? setInterval(() => sentinel.tickHealth(), HEALTH_TICK_MS)
    : undefined;
  healthTicker?.unref();
  const electionTicker =
    deps.shared !== undefined && sentinel.affinity.hasSingleActive
      ? setInterval(() => sentinel.tickElections(), ELECTION_TICK_MS)
      : undefined;
  electionTicker?.unref();
  // in a cluster, Welcome learns of this sentinel (and its load) from the sentinel registry
  const presence =
    deps.shared !== undefined && config.publicUrl !== undefined
      ? new SentinelPresence({
          registry: deps.shared.fabric.registry,
          sentinelId: config.sentinelId,
          publicUrl: config.publicUrl,
          nodes: () => sentinel.sessionCount - sentinel.attachingCount,
          log,
        })
      : undefined;
  await presence?.start();
  const scheme = config.tls ? "wss" : "ws";
  const attachUrl = `${scheme}://${svc.url.replace(/^https?:\/\//, "")}${ATTACH_PATH}`;
  log.info(
    {
      attachUrl,
      dashboard: `${svc.url}/dashboard`,
      profile: config.securityProfile,
      admission: config.admissionProfile,
      storage: config.storage.profile,
      ...(config.publicUrl !== undefined ? { publicUrl: config.publicUrl } : {}),
    },
    "sentinel ready",
  );
  // said apart, at warn: a YAML mistake or a forgotten variable must not pass as a choice
  if (config.securityProfile === "open" || config.admissionProfile === "none")
    log.warn(
      { profile: config.securityProfile, admission: config.admissionProfile },
      config.securityProfile === "open"
        ? "open profile: no signatures, nodes attach under any name (development only)"
        : "admission none: nodes attach without a ticket from Welcome (development only)",
    );

  return {
    ...svc,
    sentinel,
    attachUrl,
    async close() {
      clearInterval(sweeper);
      clearInterval(healthTicker);
      clearInterval(electionTicker);
      sentinel.leaveCluster();
      await presence?.stop();
      clusterDrain?.close();
      deps.shared?.close();
      dashboardFeed.close();
      for (const ws of wss.clients) ws.close(CLOSE.goingAway, "sentinel shutting down");
      wss.close();
      await svc.close();
    },
  };
}
