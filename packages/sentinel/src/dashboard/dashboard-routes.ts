/**
 * The dashboard's HTTP side on the sentinel's fastify server: the page and its files (public:
 * they hold no data), and the SSE stream (the operator "read" rule, like the status page).
 * Draining from the page calls the existing POST /fame/v1/nodes/:id/drain.
 */
import type { Logger } from "@fame/logger";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { OperatorEndpoint } from "../operator-access.js";
import type { DashboardAssets } from "./dashboard-assets.js";
import type { DashboardFeed } from "./dashboard-feed.js";
import { DASHBOARD_CSP, DASHBOARD_HTML, DASHBOARD_PATH } from "./dashboard-page.js";

export const DASHBOARD_STREAM_PATH = "/fame/v1/dashboard/stream";
/** pages watching at once; each costs a socket and a write a second */
export const MAX_DASHBOARD_WATCHERS = 16;
/** a watcher whose socket holds more than this unsent has stopped reading: it is dropped */
const MAX_UNSENT_BYTES = 1 << 20;

export interface DashboardRouteDeps {
  feed: DashboardFeed;
  assets: DashboardAssets;
  log: Logger;
  /** the sentinel's operator-access check: undefined when allowed, else the refusal (sent) */
  refused: (endpoint: OperatorEndpoint, req: FastifyRequest, reply: FastifyReply) => FastifyReply | undefined;
}

const PAGE_HEADERS = {
  "content-security-policy": DASHBOARD_CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

export function registerDashboard(app: FastifyInstance, deps: DashboardRouteDeps): void {
  const { feed, assets, log } = deps;
  if (assets.missing) log.warn({ reason: assets.missing }, "dashboard unavailable");

  // anyone may fetch the page and its files (they hold no data): their requests are not logged at
  // info, where a loop of fetches would write two lines each
  const QUIET = { logLevel: "warn" } as const;
  app.get(DASHBOARD_PATH, QUIET, async (_req, reply) => {
    reply.headers({ ...PAGE_HEADERS, "cache-control": "no-store" });
    if (assets.missing) {
      return reply.status(503).send({ error: "dashboard_unavailable", error_description: assets.missing });
    }
    return reply.type("text/html; charset=utf-8").send(DASHBOARD_HTML);
  });

  app.get<{ Params: { name: string } }>(`${DASHBOARD_PATH}/:name`, QUIET, async (req, reply) => {
    const file = assets.get(req.params.name);
    if (file === undefined) {
      return reply.status(404).send({ error: "not_found", error_description: "no such dashboard file" });
    }
    reply.headers({ ...PAGE_HEADERS, "cache-control": "no-cache", etag: file.etag });
    if (req.headers["if-none-match"] === file.etag) return reply.status(304).send();
    return reply.type(file.contentType).send(file.body);
  });

  app.get(DASHBOARD_STREAM_PATH, async (req, reply) => {
    if (deps.refused("read", req, reply)) return reply;
    if (feed.watchers >= MAX_DASHBOARD_WATCHERS) {
      return reply
        .status(503)
        .header("retry-after", "5")
        .send({
          error: "too_many_watchers",
          error_description: `at most ${MAX_DASHBOARD_WATCHERS} dashboards`,
        });
    }
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      "x-accel-buffering": "no",
    });
    let unsubscribe = (): void => {};
    const end = () => {
      unsubscribe();
      unsubscribe = () => {};
    };
    // the hello may still be on its way at the first ticks: it does not count as not reading
    let helloAllowance = 0;
    const sub = feed.subscribe((frame) => {
      if (res.writableLength <= MAX_UNSENT_BYTES) helloAllowance = 0;
      if (res.writableLength > MAX_UNSENT_BYTES + helloAllowance) {
        log.warn({ remote: req.socket.remoteAddress }, "dashboard watcher not reading: dropped");
        end();
        res.destroy();
        return;
      }
      res.write(frame);
    });
    unsubscribe = sub.unsubscribe;
    res.on("close", end);
    res.on("error", end);
    helloAllowance = Buffer.byteLength(sub.hello);
    res.write(sub.hello);
    return reply;
  });
}
