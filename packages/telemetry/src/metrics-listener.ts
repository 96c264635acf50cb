/**
 * A node's Prometheus endpoint: GET /metrics on a loopback port, and the probes a supervisor
 * asks for (/health: the process answers; /ready: it can take work, 503 with the reason when
 * not). Nodes do not load fastify (see the layering rules), and three routes need no
 * framework. Loopback only: a node's metrics name its operations, which is for the host's
 * scraper, not the network.
 */
import { createServer, type Server } from "node:http";
import { PROMETHEUS_CONTENT_TYPE } from "./prometheus.js";

export interface MetricsListener {
  /** the bound port (the one asked for, or the kernel's choice for 0) */
  readonly port: number;
  close(): Promise<void>;
}

export interface MetricsListenerOptions {
  /** default 127.0.0.1 */
  host?: string;
  /** undefined: ready; else why not (answered on /ready with 503). Default: always ready */
  notReady?: (() => string | undefined) | undefined;
}

export async function startMetricsListener(
  port: number,
  render: () => string,
  { host = "127.0.0.1", notReady = () => undefined }: MetricsListenerOptions = {},
): Promise<MetricsListener> {
  if (!Number.isSafeInteger(port) || port < 0 || port > 65_535) throw new RangeError("bad metrics port");
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "").split("?", 1)[0];
    if (path !== "/metrics" && path !== "/health" && path !== "/ready") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" }).end("method not allowed\n");
      return;
    }
    if (path !== "/metrics") {
      const why = path === "/ready" ? notReady() : undefined;
      const body = `${JSON.stringify(why === undefined ? { status: path === "/ready" ? "ready" : "ok" } : { status: "not_ready", reason: why })}\n`;
      res.writeHead(why === undefined ? 200 : 503, {
        "content-type": "application/json",
        "cache-control": "no-store",
      });
      res.end(req.method === "HEAD" ? undefined : body);
      return;
    }
    let body: string;
    try {
      body = render();
    } catch {
      res.writeHead(500, { "content-type": "text/plain" }).end("metrics unavailable\n");
      return;
    }
    res.writeHead(200, { "content-type": PROMETHEUS_CONTENT_TYPE, "cache-control": "no-store" });
    res.end(req.method === "HEAD" ? undefined : body);
  });
  // a scraper holds nothing open for long; an idle socket is closed rather than kept
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const bound = typeof address === "object" && address !== null ? address.port : port;
  // the listener never keeps a closing process alive
  server.unref();
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
