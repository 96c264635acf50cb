/**
 * A node's telemetry as its environment asks for it: OpenTelemetry tracing (OTEL_* settings,
 * or span ids without export when envelopes are shown) and the Prometheus page of its serve
 * times (FAME_METRICS_PORT). Neither set: nothing is made, and the RPC layer gets no tracer
 * and no observer, so calls pay nothing for this.
 */
import { ConfigError, readInt } from "@fame/config";
import type { Logger } from "@fame/logger";
import {
  type FameTracing,
  type MetricsListener,
  renderPrometheus,
  startMetricsListener,
  startTracing,
  TelemetrySettingError,
} from "@fame/telemetry";
import type { RpcEndpointOptions } from "./rpc/endpoint.js";
import { ServeTelemetry } from "./rpc/serve-telemetry.js";

export interface NodeTelemetrySettings {
  env: NodeJS.ProcessEnv;
  /** service.name when OTEL_SERVICE_NAME is unset */
  serviceName: string;
  /** verbose output: trace ids are made (and logged per call) even with no exporter */
  verbose: boolean;
  log: Logger;
}

export class NodeTelemetry {
  readonly tracing: FameTracing | undefined;
  readonly serve: ServeTelemetry;
  readonly #metricsPort: number | undefined;
  readonly #log: Logger;
  readonly #verbose: boolean;
  #listener: MetricsListener | undefined;

  private constructor(
    settings: NodeTelemetrySettings,
    tracing: FameTracing | undefined,
    port: number | undefined,
  ) {
    this.tracing = tracing;
    this.#metricsPort = port;
    this.#log = settings.log;
    this.#verbose = settings.verbose;
    this.serve = new ServeTelemetry({ tracer: tracing?.tracer, metrics: port !== undefined });
    if (tracing?.endpoint !== undefined)
      this.#log.info({ endpoint: tracing.endpoint, service: tracing.serviceName }, "exporting traces");
  }

  /** undefined when neither tracing nor metrics are asked for; throws on a malformed setting */
  static async fromEnv(settings: NodeTelemetrySettings): Promise<NodeTelemetry | undefined> {
    const env = settings.env;
    const port = env["FAME_METRICS_PORT"]
      ? readInt(env["FAME_METRICS_PORT"], "FAME_METRICS_PORT", { fallback: 0, min: 0, max: 65_535 })
      : undefined;
    let tracing: FameTracing | undefined;
    try {
      tracing = await startTracing({
        env,
        serviceName: settings.serviceName,
        tracerName: "@fame/sdk",
        withoutExporter: settings.verbose,
      });
    } catch (err) {
      if (err instanceof TelemetrySettingError) throw new ConfigError(err.setting, err.reason);
      throw err;
    }
    if (tracing === undefined && port === undefined) return undefined;
    return new NodeTelemetry(settings, tracing, port);
  }

  /** what the RPC endpoint takes: the tracer for calls, the observer for served calls */
  rpcOptions(): Partial<RpcEndpointOptions> {
    const log = this.#log;
    return {
      tracer: this.tracing?.tracer,
      telemetry: this.serve,
      onTraced: this.#verbose
        ? ({ traceId, address, method }) => log.info({ traceId, address, operation: method }, "call traced")
        : undefined,
    };
  }

  /** opens the metrics page (and /health, /ready) when FAME_METRICS_PORT is set */
  async listen(notReady?: () => string | undefined): Promise<void> {
    const serve = this.serve;
    const port = this.#metricsPort;
    if (port === undefined || this.#listener !== undefined) return;
    try {
      this.#listener = await startMetricsListener(port, () => renderPrometheus(serve.metricFamilies()), {
        notReady,
      });
    } catch (err) {
      // the setting's fault, said as such (exit 2 where settings are checked), not a stack trace
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EADDRINUSE" || code === "EACCES")
        throw new ConfigError(
          "FAME_METRICS_PORT",
          `port ${port} is ${code === "EADDRINUSE" ? "in use by another process" : "not allowed"}: ` +
            'give each replica its own, or 0 for any free port (logged as "metrics listening")',
        );
      throw err;
    }
    this.#log.info({ url: `http://127.0.0.1:${this.#listener.port}/metrics` }, "metrics listening");
  }

  /** the bound metrics port (0 asks the kernel for one), once listening */
  get metricsPort(): number | undefined {
    return this.#listener?.port;
  }

  /** stop the metrics page and flush the spans still buffered (bounded) */
  async close(): Promise<void> {
    const listener = this.#listener;
    this.#listener = undefined;
    await listener?.close();
    await this.tracing?.shutdown();
  }
}
