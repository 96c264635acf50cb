import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunningService, startHttpService } from "@fame/http-service/server";
import type { FastifyReply, FastifyRequest } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { DashboardAssets } from "../src/dashboard/dashboard-assets.js";
import { DashboardFeed } from "../src/dashboard/dashboard-feed.js";
import type { DashboardReading } from "../src/dashboard/dashboard-reading.js";
import {
  DASHBOARD_STREAM_PATH,
  MAX_DASHBOARD_WATCHERS,
  registerDashboard,
} from "../src/dashboard/dashboard-routes.js";
import { type OperatorEndpoint, operatorAccess } from "../src/operator-access.js";
import { quietLogger } from "./fake-link.js";

const TOKEN = "t".repeat(43);
const reading = (): DashboardReading => ({
  at: Date.now(),
  sentinelId: "s0",
  securityProfile: "strict-overlay",
  connections: 0,
  attachedNodes: 0,
  inflight: 0,
  pools: [],
  truncated: false,
  poolCount: 0,
  refusals: {},
  failovers: { replicaUnavailable: 0, sessionsMoved: 0, channelsMoved: 0 },
});

interface Got {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** GET; for a stream, resolves with the first chunk and leaves the response open (`close()` ends it) */
function fetchOnce(url: string, headers: Record<string, string> = {}): Promise<Got & { close(): void }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { headers }, (res) => {
      const stream = String(res.headers["content-type"]).startsWith("text/event-stream");
      let body = "";
      const done = () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, close: () => req.destroy() });
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
        if (stream) done();
      });
      res.on("end", done);
    });
    req.on("error", (err) => (err.message === "socket hang up" ? undefined : reject(err)));
  });
}

let svc: RunningService | undefined;
let dir: string | undefined;
afterEach(async () => {
  await svc?.close();
  svc = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

async function serve(withScript = true) {
  dir = mkdtempSync(join(tmpdir(), "fame-dashboard-"));
  if (withScript) writeFileSync(join(dir, "app.js"), "export {};\n");
  writeFileSync(join(dir, "notes.txt"), "not served");
  const feed = new DashboardFeed({ read: reading, intervalMs: 60_000 });
  const rule = { token: TOKEN, profile: "strict-overlay" as const };
  const refused = (endpoint: OperatorEndpoint, req: FastifyRequest, reply: FastifyReply) => {
    const v = operatorAccess(
      endpoint,
      { authorization: req.headers.authorization, remoteAddress: req.socket.remoteAddress },
      rule,
    );
    return v.ok ? undefined : reply.status(v.status).send(v.body);
  };
  svc = await startHttpService({
    name: "dashboard-test",
    port: 0,
    tls: null,
    logger: quietLogger,
    register: (app) =>
      registerDashboard(app, { feed, assets: DashboardAssets.load(dir), log: quietLogger, refused }),
  });
  return { feed, url: svc.url };
}

describe("dashboard routes", () => {
  it("serves the page with a strict CSP, and its files (uPlot from the package) from memory", async () => {
    const { url } = await serve();
    const page = await fetchOnce(`${url}/dashboard`);
    expect(page.status).toBe(200);
    expect(page.headers["content-type"]).toMatch(/^text\/html/);
    const csp = String(page.headers["content-security-policy"]);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(page.body).not.toMatch(/<script>|<style>|style="/);
    expect(page.body).toContain('src="/dashboard/app.js"');
    const uplot = await fetchOnce(`${url}/dashboard/uPlot.iife.min.js`);
    expect(uplot.status).toBe(200);
    expect(uplot.headers["content-type"]).toMatch(/^text\/javascript/);
    expect(uplot.body).toContain("uPlot");
    expect((await fetchOnce(`${url}/dashboard/uPlot.min.css`)).headers["content-type"]).toMatch(/^text\/css/);
    const app = await fetchOnce(`${url}/dashboard/app.js`, {});
    expect(app.status).toBe(200);
    expect(
      (await fetchOnce(`${url}/dashboard/app.js`, { "if-none-match": String(app.headers["etag"]) })).status,
    ).toBe(304);
    expect((await fetchOnce(`${url}/dashboard/notes.txt`)).status).toBe(404);
    expect((await fetchOnce(`${url}/dashboard/..%2F..%2Fpackage.json`)).status).toBe(404);
  });

  it("answers 503 naming make build when the page's script was not built", async () => {
    const { url } = await serve(false);
    const page = await fetchOnce(`${url}/dashboard`);
    expect(page.status).toBe(503);
    expect(page.body).toContain("make build");
  });

  it("streams only with the admin token (strict profile, even on loopback), hello first", async () => {
    const { url, feed } = await serve();
    expect((await fetchOnce(`${url}${DASHBOARD_STREAM_PATH}`)).status).toBe(401);
    expect(
      (await fetchOnce(`${url}${DASHBOARD_STREAM_PATH}`, { authorization: "Bearer wrong" })).status,
    ).toBe(401);
    expect(feed.sampling).toBe(false);
    const s = await fetchOnce(`${url}${DASHBOARD_STREAM_PATH}`, { authorization: `Bearer ${TOKEN}` });
    expect(s.status).toBe(200);
    expect(s.headers["content-type"]).toMatch(/^text\/event-stream/);
    expect(s.body).toMatch(/^event: hello\ndata: \{/);
    expect(feed.watchers).toBe(1);
    expect(feed.sampling).toBe(true);
    s.close();
    await expect.poll(() => feed.watchers).toBe(0);
    expect(feed.sampling).toBe(false);
  });

  it(`refuses watchers beyond ${MAX_DASHBOARD_WATCHERS}`, async () => {
    const { url, feed } = await serve();
    const auth = { authorization: `Bearer ${TOKEN}` };
    const open = [];
    for (let i = 0; i < MAX_DASHBOARD_WATCHERS; i++)
      open.push(await fetchOnce(`${url}${DASHBOARD_STREAM_PATH}`, auth));
    expect(open.every((s) => s.status === 200)).toBe(true);
    const extra = await fetchOnce(`${url}${DASHBOARD_STREAM_PATH}`, auth);
    expect(extra.status).toBe(503);
    expect(extra.headers["retry-after"]).toBe("5");
    for (const s of open) s.close();
    await expect.poll(() => feed.watchers).toBe(0);
  });
});
