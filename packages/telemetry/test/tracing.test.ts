import { request } from "node:http";
import { describe, expect, it } from "vitest";
import { startMetricsListener } from "../src/metrics-listener.js";
import { startTracing } from "../src/tracing.js";
import { samplerFromEnv } from "../src/tracing-provider.js";
import { TelemetrySettingError, tracesEndpointFromEnv, tracingConfigured } from "../src/tracing-settings.js";

const opts = { serviceName: "svc", tracerName: "@fame/test" };

describe("startTracing", () => {
  it("loads no OpenTelemetry SDK code unless tracing starts", async () => {
    const { execFileSync } = await import("node:child_process");
    // a fresh process: which modules does importing the package (and an untraced start) load?
    const loaded = execFileSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `const t = await import(${JSON.stringify(new URL("../dist/index.js", import.meta.url).href)});
         await t.startTracing({ serviceName: "s", tracerName: "t", env: {} });
         const { createRequire } = await import("node:module");
         const cache = Object.keys(createRequire(import.meta.url).cache);
         console.log(JSON.stringify(cache.filter((k) => k.includes("sdk-trace-base") || k.includes("exporter-trace"))));`,
      ],
      { encoding: "utf8" },
    );
    expect(JSON.parse(loaded)).toEqual([]);
  });

  it("starts nothing when no endpoint is set, or when the SDK is disabled", async () => {
    expect(await startTracing({ ...opts, env: {} })).toBeUndefined();
    expect(tracingConfigured({})).toBe(false);
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318", OTEL_SDK_DISABLED: "true" };
    expect(await startTracing({ ...opts, env })).toBeUndefined();
    expect(await startTracing({ ...opts, env, withoutExporter: true })).toBeUndefined();
  });

  it("derives the traces URL as the OTLP specification does", () => {
    expect(tracesEndpointFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" })).toBe(
      "http://c:4318/v1/traces",
    );
    expect(tracesEndpointFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318/" })).toBe(
      "http://c:4318/v1/traces",
    );
    expect(
      tracesEndpointFromEnv({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://t/custom",
      }),
    ).toBe("https://t/custom");
  });

  it("refuses malformed settings by name", async () => {
    const bad = async (env: NodeJS.ProcessEnv, setting: string) => {
      const err = await startTracing({ ...opts, env }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(TelemetrySettingError);
      expect((err as TelemetrySettingError).setting).toBe(setting);
    };
    await bad({ OTEL_EXPORTER_OTLP_ENDPOINT: "not a url" }, "OTEL_EXPORTER_OTLP_ENDPOINT");
    await bad({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "ftp://x/y" }, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
    await bad(
      { OTEL_EXPORTER_OTLP_ENDPOINT: "http://c", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" },
      "OTEL_EXPORTER_OTLP_PROTOCOL",
    );
    await bad(
      { OTEL_EXPORTER_OTLP_ENDPOINT: "http://c", OTEL_TRACES_SAMPLER: "sometimes" },
      "OTEL_TRACES_SAMPLER",
    );
    await bad(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://c",
        OTEL_TRACES_SAMPLER: "traceidratio",
        OTEL_TRACES_SAMPLER_ARG: "2",
      },
      "OTEL_TRACES_SAMPLER_ARG",
    );
    await bad(
      { OTEL_EXPORTER_OTLP_ENDPOINT: "http://c", OTEL_BSP_SCHEDULE_DELAY: "-1" },
      "OTEL_BSP_SCHEDULE_DELAY",
    );
  });

  it("makes recorded spans with ids and no exporter when asked for ids only", async () => {
    const t = (await startTracing({ ...opts, env: { OTEL_SERVICE_NAME: "named" }, withoutExporter: true }))!;
    expect(t.endpoint).toBeUndefined();
    expect(t.serviceName).toBe("named");
    const span = t.tracer.startSpan("x");
    expect(span.isRecording()).toBe(true);
    expect(span.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
    span.end();
    await t.shutdown();
  });

  it("follows OTEL_TRACES_SAMPLER", async () => {
    expect(samplerFromEnv({}).toString()).toMatch(/ParentBased/);
    expect(samplerFromEnv({ OTEL_TRACES_SAMPLER: "always_off" }).toString()).toMatch(/AlwaysOff/);
    expect(
      samplerFromEnv({ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.25" }).toString(),
    ).toMatch(/TraceIdRatioBased\{0.25\}/);
    const off = (await startTracing({
      ...opts,
      env: { OTEL_TRACES_SAMPLER: "always_off" },
      withoutExporter: true,
    }))!;
    expect(off.tracer.startSpan("x").isRecording()).toBe(false);
  });

  it("shuts down within its bound when the collector does not answer", async () => {
    // a port nothing listens on: the export fails, shutdown still returns
    const t = (await startTracing({ ...opts, env: { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9" } }))!;
    t.tracer.startSpan("lost").end();
    const began = Date.now();
    await t.shutdown();
    expect(Date.now() - began).toBeLessThan(6000);
  });
});

function get(
  port: number,
  path: string,
  method = "GET",
): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"]), body }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

describe("startMetricsListener", () => {
  it("answers a supervisor's probes: /health while it runs, /ready only while the node can take work", async () => {
    let why: string | undefined = "connection reconnecting";
    const listener = await startMetricsListener(0, () => "x_total 1\n", { notReady: () => why });
    try {
      const health = await get(listener.port, "/health");
      expect(health.status).toBe(200);
      expect(JSON.parse(health.body)).toEqual({ status: "ok" });
      const notReady = await get(listener.port, "/ready");
      expect(notReady.status).toBe(503);
      expect(JSON.parse(notReady.body)).toEqual({ status: "not_ready", reason: "connection reconnecting" });
      why = undefined;
      const ready = await get(listener.port, "/ready");
      expect(ready.status).toBe(200);
      expect(JSON.parse(ready.body)).toEqual({ status: "ready" });
      expect((await get(listener.port, "/ready", "POST")).status).toBe(405);
    } finally {
      await listener.close();
    }
  });

  it("serves GET /metrics on loopback and nothing else", async () => {
    const listener = await startMetricsListener(0, () => "x_total 1\n");
    try {
      const ok = await get(listener.port, "/metrics");
      expect(ok).toMatchObject({ status: 200, body: "x_total 1\n" });
      expect(ok.type).toMatch(/^text\/plain; version=0.0.4/);
      expect((await get(listener.port, "/other")).status).toBe(404);
      expect((await get(listener.port, "/metrics", "POST")).status).toBe(405);
    } finally {
      await listener.close();
    }
  });

  it("answers 500 when rendering fails, and keeps serving", async () => {
    let fail = true;
    const listener = await startMetricsListener(0, () => {
      if (fail) throw new Error("boom");
      return "ok 1\n";
    });
    try {
      expect(await get(listener.port, "/metrics")).toMatchObject({
        status: 500,
        body: "metrics unavailable\n",
      });
      fail = false;
      expect((await get(listener.port, "/metrics")).status).toBe(200);
    } finally {
      await listener.close();
    }
  });
});
