import { createLogger, type Logger } from "@fame/logger";
import Fastify, { type FastifyError, type FastifyInstance } from "fastify";
import { type ConnectionLimits, checkingIntervalMs, DEFAULT_CONNECTION_LIMITS } from "./connection-limits.js";
import { guardHandshakes, type HandshakeCounters, HandshakeGate } from "./handshake-gate.js";
import type { ServerTls } from "./tls.js";

export interface HttpServiceOptions {
  /** component name in logs and /health */
  name: string;
  host?: string;
  port: number;
  /** null = plain HTTP (only ever chosen by the explicit dev flag) */
  tls: ServerTls | null;
  logger?: Logger;
  /** request bodies above this are refused with 413 before parsing; default 64 KiB */
  bodyLimit?: number;
  /** deadlines and caps before a connection has made its request (default DEFAULT_CONNECTION_LIMITS) */
  connectionLimits?: ConnectionLimits;
  /** adds routes; runs before listen */
  register: (app: FastifyInstance, log: Logger) => void | Promise<void>;
  /** extra fields for GET /health */
  health?: () => Record<string, unknown>;
  /**
   * Why the service cannot take new work now (GET /ready answers 503 with it), or undefined
   * when it can. /health stays 200 while the process runs (liveness); /ready is what a load
   * balancer's health check should ask (readiness). Default: always ready.
   */
  notReady?: () => string | undefined;
}

export interface RunningService {
  app: FastifyInstance;
  url: string;
  port: number;
  log: Logger;
  /** connections in their handshake now, and those refused or timed out there */
  handshakes: HandshakeCounters;
  close(): Promise<void>;
}

/**
 * ALPN as node's https server does it by default (`ALPNProtocols: ["http/1.1"]`: http/1.1 when
 * offered, none when the client offers nothing, a no_application_protocol alert otherwise),
 * chosen by callback so the server has no ALPNProtocols: with them, every accepted TLS socket
 * keeps its own copy of the list, a small Buffer from the shared 8 KiB pool that pins a slab
 * shared with short-lived Buffers; ~570 B of memory per attached node in the sentinel.
 */
export function selectHttp11({ protocols }: { protocols: string[] }): string | undefined {
  return protocols.includes("http/1.1") ? "http/1.1" : undefined;
}

/**
 * A fastify server with the conventions every FAME service shares: TLS by
 * default, /health, bounded bodies, JSON errors that never leak internals.
 */
export async function startHttpService(opts: HttpServiceOptions): Promise<RunningService> {
  const log = opts.logger ?? createLogger({ name: opts.name });
  const limits = opts.connectionLimits ?? DEFAULT_CONNECTION_LIMITS;
  // read by node's server constructor; fastify sets requestTimeout and keepAliveTimeout itself
  const nodeServerTimeouts = {
    headersTimeout: limits.requestMs,
    connectionsCheckingInterval: checkingIntervalMs(limits),
  };
  const app = Fastify({
    loggerInstance: log,
    bodyLimit: opts.bodyLimit ?? 64 * 1024,
    requestTimeout: limits.requestMs,
    keepAliveTimeout: limits.keepAliveMs,
    ...(opts.tls
      ? {
          https: {
            cert: opts.tls.cert,
            key: opts.tls.key,
            minVersion: "TLSv1.2" as const,
            ALPNCallback: selectHttp11,
            handshakeTimeout: limits.handshakeMs,
            ...nodeServerTimeouts,
          },
        }
      : { http: nodeServerTimeouts }),
    return503OnClosing: true,
    forceCloseConnections: true,
  }) as unknown as FastifyInstance;

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) req.log.error({ err }, "request failed");
    else req.log.warn({ code: err.code, status, url: req.url }, err.message);
    const code =
      status === 413
        ? "request_too_large"
        : status === 415
          ? "unsupported_media_type"
          : status >= 500
            ? "internal_error"
            : "invalid_request";
    // Only client errors echo their message: it describes the caller's input, never our state.
    void reply
      .status(status)
      .send({ error: code, error_description: status >= 500 ? "internal error" : err.message });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply
      .status(404)
      .send({ error: "not_found", error_description: `no route ${req.method} ${req.url}` });
  });
  // ms since the port opened: a supervisor (or a bench) can tell when a restarted process came up
  let listeningAt = 0;
  // probed every few seconds by supervisors and load balancers: their requests are not logged
  // at info (two lines each drowned everything else); failures still are
  const PROBE = { logLevel: "warn" } as const;
  app.get("/health", PROBE, async () => ({
    status: "ok",
    service: opts.name,
    uptimeMs: listeningAt === 0 ? 0 : Date.now() - listeningAt,
    ...(opts.health?.() ?? {}),
  }));
  app.get("/ready", PROBE, async (_req, reply) => {
    const why = opts.notReady?.();
    if (why === undefined) return { status: "ready", service: opts.name };
    return reply.status(503).send({ status: "not_ready", service: opts.name, reason: why });
  });

  await opts.register(app, log);
  const handshakes = guardHandshakes(
    app.server,
    new HandshakeGate({ maxTotal: limits.maxHandshakes, maxPerIp: limits.maxHandshakesPerIp }),
    log,
  );
  const host = opts.host ?? "127.0.0.1";
  await app.listen({ host, port: opts.port });
  listeningAt = Date.now();
  const addr = app.server.address();
  const port = typeof addr === "object" && addr ? addr.port : opts.port;
  const url = `${opts.tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${port}`;
  log.info({ url, tls: opts.tls !== null }, `${opts.name} listening`);
  if (!opts.tls) log.warn("plain HTTP enabled by FAME_DEV_INSECURE_HTTP: development only");
  return { app, url, port, log, handshakes, close: () => app.close() };
}
