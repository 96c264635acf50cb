import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { fetchWithTrust, OutboundError, requestJson, requestRaw } from "@fame/http-service/client";
import {
  checkingIntervalMs,
  connectionLimitsFromEnv,
  DEFAULT_CONNECTION_LIMITS,
} from "@fame/http-service/connection-limits";
import { HandshakeGate } from "@fame/http-service/handshake-gate";
import { type RunningService, selectHttp11, startHttpService } from "@fame/http-service/server";
import { serverTlsFromEnv } from "@fame/http-service/tls";
import { createLogger } from "@fame/logger";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const logLines: string[] = [];
const sink = new Writable({
  write(chunk, _e, cb) {
    logLines.push(String(chunk));
    cb();
  },
});

let svc: RunningService;
beforeAll(async () => {
  svc = await startHttpService({
    name: "unit-svc",
    port: 0,
    tls: null,
    bodyLimit: 1024,
    logger: createLogger({ name: "unit-svc", destination: sink, level: "info" }),
    health: () => ({ extra: 1 }),
    register: (app) => {
      app.post("/echo", async (req) => ({ got: req.body }));
      app.get("/boom", async () => {
        throw new Error("secret internal detail");
      });
    },
  });
});
afterAll(() => svc.close());

describe("startHttpService", () => {
  it("does not log each probe of /health and /ready at info (other requests are logged)", async () => {
    const from = logLines.length;
    for (let i = 0; i < 5; i++) {
      await requestJson(`${svc.url}/health`);
      await requestJson(`${svc.url}/ready`);
    }
    const probeLines = logLines.slice(from).filter((l) => /"url":"\/(health|ready)"/.test(l));
    expect(probeLines).toEqual([]);
    await svc.app.inject({ method: "POST", url: "/echo", payload: { a: 1 } });
    expect(logLines.slice(from).some((l) => l.includes('"url":"/echo"'))).toBe(true);
  });

  it("serves /health with extra fields and the ms since the port opened", async () => {
    const before = await requestJson<{ uptimeMs: number }>(`${svc.url}/health`);
    expect(before).toEqual({ status: "ok", service: "unit-svc", uptimeMs: expect.any(Number), extra: 1 });
    expect(before.uptimeMs).toBeGreaterThanOrEqual(0);
    // a later answer reports at least as long
    const after = await requestJson<{ uptimeMs: number }>(`${svc.url}/health`);
    expect(after.uptimeMs).toBeGreaterThanOrEqual(before.uptimeMs);
  });

  it("serves /ready: 200 while it can take work, 503 with the reason while it cannot (/health stays 200)", async () => {
    expect((await svc.app.inject({ method: "GET", url: "/ready" })).json()).toEqual({
      status: "ready",
      service: "unit-svc",
    });
    let why: string | undefined = "its shared state is unreachable";
    const degraded = await startHttpService({
      name: "degraded",
      port: 0,
      tls: null,
      logger: createLogger({ name: "degraded", level: "silent" }),
      notReady: () => why,
      register: () => {},
    });
    try {
      const down = await degraded.app.inject({ method: "GET", url: "/ready" });
      expect(down.statusCode).toBe(503);
      expect(down.json()).toEqual({ status: "not_ready", service: "degraded", reason: why });
      expect((await degraded.app.inject({ method: "GET", url: "/health" })).statusCode).toBe(200);
      why = undefined;
      expect((await degraded.app.inject({ method: "GET", url: "/ready" })).statusCode).toBe(200);
    } finally {
      await degraded.close();
    }
  });

  it("answers unknown routes with a JSON 404", async () => {
    const res = await requestRaw(`${svc.url}/nope`);
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body.toString())).toMatchObject({ error: "not_found" });
  });

  it("refuses oversized bodies with 413 and malformed JSON with 400", async () => {
    const big = await requestRaw(`${svc.url}/echo`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ a: "x".repeat(5000) }),
    });
    expect(big.status).toBe(413);
    expect(JSON.parse(big.body.toString())).toMatchObject({ error: "request_too_large" });
    const bad = await requestRaw(`${svc.url}/echo`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body.toString())).toMatchObject({ error: "invalid_request" });
  });

  it("does not leak internal error messages", async () => {
    const res = await requestRaw(`${svc.url}/boom`);
    expect(res.status).toBe(500);
    expect(res.body.toString()).not.toContain("secret internal detail");
    expect(logLines.join("")).toContain("secret internal detail");
  });
});

describe("outbound requests", () => {
  it("abandon oversized and slow answers", async () => {
    const server = createServer((req, res) => {
      if (req.url === "/big") res.end("x".repeat(4096));
      if (req.url === "/trickle") {
        // a byte now and then keeps the socket busy: only a whole-exchange deadline ends it
        res.writeHead(200);
        const drip = setInterval(() => res.write("x"), 20);
        res.on("close", () => clearInterval(drip));
      }
      // /slow never answers: the client's deadline must end it
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      await expect(requestRaw(`${base}/big`, { maxBytes: 100 })).rejects.toMatchObject({ code: "too_large" });
      await expect(requestRaw(`${base}/slow`, { timeoutMs: 200 })).rejects.toBeInstanceOf(OutboundError);
      await expect(requestRaw(`${base}/trickle`, { timeoutMs: 200 })).rejects.toMatchObject({
        code: "timeout",
      });
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it("fetchWithTrust sends string bodies and refuses others rather than drop them", async () => {
    const fetchTrusted = fetchWithTrust({});
    const res = await fetchTrusted(`${svc.url}/echo`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ a: 1 }),
    });
    expect(await res.json()).toEqual({ got: { a: 1 } });
    await expect(
      fetchTrusted(`${svc.url}/echo`, { method: "POST", body: new Uint8Array([1]) }),
    ).rejects.toBeInstanceOf(TypeError);
  });

  it("reports non-2xx with the parsed body", async () => {
    await expect(requestJson(`${svc.url}/nope`)).rejects.toMatchObject({ code: "http_status", status: 404 });
  });
});

describe("serverTlsFromEnv", () => {
  it("is null only with the explicit dev flag, and names missing files", () => {
    expect(serverTlsFromEnv({ FAME_DEV_INSECURE_HTTP: "1" })).toBeNull();
    expect(() => serverTlsFromEnv({ FAME_TLS_CERT: "/nonexistent.pem" })).toThrow(/FAME_TLS_CERT/);
  });
});

describe("selectHttp11", () => {
  it("picks http/1.1 wherever it is offered and nothing else", () => {
    expect(selectHttp11({ protocols: ["h2", "http/1.1"] })).toBe("http/1.1");
    expect(selectHttp11({ protocols: ["http/1.1"] })).toBe("http/1.1");
    expect(selectHttp11({ protocols: ["h2"] })).toBeUndefined();
    expect(selectHttp11({ protocols: ["http/1.0", "spdy/3"] })).toBeUndefined();
  });
});

describe("connectionLimitsFromEnv", () => {
  it("defaults to 10 s for the handshake and the request, 5 s of keep-alive, 512 handshakes and 64 from one IP", () => {
    expect(connectionLimitsFromEnv({})).toEqual(DEFAULT_CONNECTION_LIMITS);
    expect(DEFAULT_CONNECTION_LIMITS).toEqual({
      handshakeMs: 10_000,
      requestMs: 10_000,
      keepAliveMs: 5_000,
      maxHandshakes: 512,
      maxHandshakesPerIp: 64,
    });
  });

  it("reads its settings and refuses values out of range, naming them", () => {
    expect(
      connectionLimitsFromEnv({
        FAME_TLS_HANDSHAKE_TIMEOUT_MS: "2500",
        FAME_HTTP_REQUEST_TIMEOUT_MS: "30000",
        FAME_HTTP_KEEP_ALIVE_TIMEOUT_MS: "1000",
        FAME_MAX_HANDSHAKES: "100",
        FAME_MAX_HANDSHAKES_PER_IP: "10",
      }),
    ).toEqual({
      handshakeMs: 2500,
      requestMs: 30_000,
      keepAliveMs: 1000,
      maxHandshakes: 100,
      maxHandshakesPerIp: 10,
    });
    for (const [setting, value] of [
      ["FAME_TLS_HANDSHAKE_TIMEOUT_MS", "0"],
      ["FAME_HTTP_REQUEST_TIMEOUT_MS", "soon"],
      ["FAME_HTTP_KEEP_ALIVE_TIMEOUT_MS", "400000"],
      ["FAME_MAX_HANDSHAKES", "0"],
      ["FAME_MAX_HANDSHAKES_PER_IP", "1.5"],
    ] as const)
      expect(() => connectionLimitsFromEnv({ [setting]: value })).toThrow(setting);
  });

  it("checks deadlines every tenth of the request deadline, between 25 ms and 1 s", () => {
    expect(checkingIntervalMs(DEFAULT_CONNECTION_LIMITS)).toBe(1000);
    expect(checkingIntervalMs({ requestMs: 2000 })).toBe(200);
    expect(checkingIntervalMs({ requestMs: 100 })).toBe(25);
  });
});

describe("HandshakeGate", () => {
  it("counts a connection from its accept until released, capped per remote key and in total", () => {
    const gate = new HandshakeGate({ maxTotal: 3, maxPerIp: 2 });
    expect(gate.admit("10.0.0.1", 1000).ok).toBe(true);
    // IPv4-mapped is the same host
    expect(gate.admit("::ffff:10.0.0.1", 1001).ok).toBe(true);
    expect(gate.admit("10.0.0.1", 1002)).toMatchObject({ ok: false, key: "10.0.0.1" });
    expect(gate.from("10.0.0.1")).toBe(2);
    expect(gate.admit("2001:db8::1", 443).ok).toBe(true);
    // three in their handshake: a fourth host is refused by the total, not by its own count
    const full = gate.admit("10.0.0.9", 1);
    expect(full.ok).toBe(false);
    if (!full.ok) expect(full.reason).toContain("limit 3");
    expect(gate.release("10.0.0.1", 1000)).toBe(true);
    // released once: the close that follows the request does not count it down again
    expect(gate.release("10.0.0.1", 1000)).toBe(false);
    expect(gate.total).toBe(2);
    expect(gate.admit("10.0.0.9", 1).ok).toBe(true);
    // one IPv6 host is its /64
    const v6 = new HandshakeGate({ maxTotal: 10, maxPerIp: 1 });
    expect(v6.admit("2001:db8::1", 443).ok).toBe(true);
    expect(v6.admit("2001:db8::2", 443).ok).toBe(false);
    expect(v6.admit("2001:db8:0:1::1", 443).ok).toBe(true);
  });

  it("refuses nonsensical caps", () => {
    expect(() => new HandshakeGate({ maxTotal: 0, maxPerIp: 1 })).toThrow(RangeError);
    expect(() => new HandshakeGate({ maxTotal: 1, maxPerIp: 1.5 })).toThrow(RangeError);
  });
});
