import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { type RunningService, startHttpService } from "@fame/http-service";
import type { Logger } from "@fame/logger";
import type { FastifyRequest } from "fastify";
import { type WebSocket, WebSocketServer } from "ws";
import { CLOSE, Sentinel, type SentinelDeps } from "./sentinel.js";
import type { SentinelConfig } from "./sentinel-config.js";

export const ATTACH_PATH = "/fame/v1/attach/ws/downstream";
export const STATUS_PATH = "/fame/v1/status";

export interface RunningSentinel extends RunningService {
  sentinel: Sentinel;
  /** wss:// (or ws:// in dev) URL nodes attach to */
  attachUrl: string;
}

function isLoopback(addr: string | undefined): boolean {
  return addr === "127.0.0.1" || addr === "::1" || addr === "::ffff:127.0.0.1";
}

function bearerMatches(header: string | undefined, token: string | undefined): boolean {
  if (!token || !header?.startsWith("Bearer ")) return false;
  const a = createHash("sha256").update(header.slice(7)).digest();
  const b = createHash("sha256").update(token).digest();
  return timingSafeEqual(a, b);
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
  // ws refuses frames above maxPayload by closing (1009) before buffering them;
  // frames between the protocol limit and this get a typed nack instead.
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: config.maxFrameBytes * 2,
    perMessageDeflate: false,
  });
  let sweeper: NodeJS.Timeout | undefined;

  const svc = await startHttpService({
    name: "sentinel",
    host: config.host,
    port: config.port,
    tls: config.tls,
    logger: log,
    health: () => ({ sessions: sentinel.sessionCount }),
    register: (app) => {
      app.get(STATUS_PATH, async (req: FastifyRequest, reply) => {
        if (
          !isLoopback(req.socket.remoteAddress) &&
          !bearerMatches(req.headers.authorization, config.adminToken)
        ) {
          return reply
            .status(401)
            .send({ error: "unauthorized", error_description: "admin token or loopback required" });
        }
        return sentinel.status();
      });
      app.server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        const path = (req.url ?? "").split("?")[0];
        if (path !== ATTACH_PATH) {
          socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n");
          return;
        }
        wss.handleUpgrade(req, socket, head, (ws) => onSocket(ws, req));
      });
    },
  });

  function onSocket(ws: WebSocket, req: IncomingMessage): void {
    const remote = `${req.socket.remoteAddress ?? "?"}:${req.socket.remotePort ?? "?"}`;
    const session = sentinel.open({
      send: (data) => ws.send(data, { binary: false }),
      close: (code, reason) => ws.close(code, reason.slice(0, 120)),
      get bufferedAmount() {
        return ws.bufferedAmount;
      },
      remote,
    });
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        session.link.close(CLOSE.policy, "text frames only");
        sentinel.close(session, "binary frame");
        return;
      }
      sentinel.receive(session, data).catch((err: unknown) => log.error({ err }, "receive failed"));
    });
    ws.on("close", (code) => sentinel.close(session, `socket closed (${code})`));
    ws.on("error", (err) => {
      log.warn({ remote, err: err.message }, "socket error");
      sentinel.close(session, "socket error");
    });
  }

  sweeper = setInterval(() => sentinel.sweep(), Math.max(100, Math.floor(config.heartbeatMs / 2)));
  sweeper.unref();
  const scheme = config.tls ? "wss" : "ws";
  const attachUrl = `${scheme}://${svc.url.replace(/^https?:\/\//, "")}${ATTACH_PATH}`;
  log.info(
    { attachUrl, profile: config.securityProfile, admission: config.admissionProfile },
    "sentinel ready",
  );

  return {
    ...svc,
    sentinel,
    attachUrl,
    async close() {
      clearInterval(sweeper);
      for (const ws of wss.clients) ws.close(CLOSE.goingAway, "sentinel shutting down");
      wss.close();
      await svc.close();
    },
  };
}
