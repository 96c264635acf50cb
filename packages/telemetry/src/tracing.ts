/**
 * OpenTelemetry tracing for a FAME process, configured from the standard OTEL_* variables:
 * a BasicTracerProvider with a BatchSpanProcessor and an OTLP/HTTP (JSON) exporter, a
 * resource naming the service, and the sampler OTEL_TRACES_SAMPLER asks for. Nothing is
 * started unless an endpoint is set (or ids are wanted for verbose output), so a process
 * without OTEL_* settings holds no provider at all and its span sites stay a field check.
 *
 * The provider is not registered as the global one: an application with its own OpenTelemetry
 * setup keeps it, and FAME's spans still join the application's active span as their parent.
 */
import type { Tracer } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-base";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";

export interface TracingOptions {
  /** default process.env */
  env?: NodeJS.ProcessEnv;
  /** service.name when OTEL_SERVICE_NAME is unset */
  serviceName: string;
  /** instrumentation scope of the tracer, e.g. "@fame/sdk" */
  tracerName: string;
  /** make spans (and trace ids) even without an endpoint, for verbose output; nothing is exported */
  withoutExporter?: boolean;
}

export interface FameTracing {
  readonly tracer: Tracer;
  /** where spans go; undefined when they are only made for their ids */
  readonly endpoint: string | undefined;
  readonly serviceName: string;
  /** export what is buffered now */
  forceFlush(): Promise<void>;
  /** flush and stop; bounded, so closing a node never waits on an unreachable collector */
  shutdown(): Promise<void>;
}

/** A malformed OTEL_* value; `setting` names the variable (callers map it to their config error). */
export class TelemetrySettingError extends Error {
  constructor(
    readonly setting: string,
    readonly reason: string,
  ) {
    super(`invalid setting ${setting}: ${reason}`);
    this.name = "TelemetrySettingError";
  }
}

const SHUTDOWN_BOUND_MS = 5000;
const OTLP_TRACES_PATH = "v1/traces";

function setting(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v.length === 0 ? undefined : v;
}

/** The OTLP traces URL the environment names, as the OTLP exporter specification derives it. */
export function tracesEndpointFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const traces = setting(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  const base = setting(env, "OTEL_EXPORTER_OTLP_ENDPOINT");
  const [name, url] =
    traces !== undefined
      ? ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces]
      : base !== undefined
        ? ["OTEL_EXPORTER_OTLP_ENDPOINT", `${base}${base.endsWith("/") ? "" : "/"}${OTLP_TRACES_PATH}`]
        : [undefined, undefined];
  if (url === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TelemetrySettingError(String(name), "is not a URL");
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
    throw new TelemetrySettingError(String(name), "must be an http:// or https:// URL");
  for (const p of ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"]) {
    const protocol = setting(env, p);
    if (protocol !== undefined && protocol !== "http/json")
      throw new TelemetrySettingError(p, `${protocol}: FAME exports OTLP over HTTP as JSON only (http/json)`);
  }
  return url;
}

/** OTEL_SDK_DISABLED=true turns tracing off whatever else is set. */
export function tracingDisabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return setting(env, "OTEL_SDK_DISABLED")?.toLowerCase() === "true";
}

/** Whether startTracing would start anything: an endpoint is set and the SDK is not disabled. */
export function tracingConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  return !tracingDisabled(env) && tracesEndpointFromEnv(env) !== undefined;
}

/** The sampler OTEL_TRACES_SAMPLER (+ _ARG) names; parentbased_always_on when unset. */
export function samplerFromEnv(env: NodeJS.ProcessEnv = process.env): Sampler {
  const name = setting(env, "OTEL_TRACES_SAMPLER")?.toLowerCase() ?? "parentbased_always_on";
  const arg = setting(env, "OTEL_TRACES_SAMPLER_ARG");
  const ratio = (): number => {
    const r = arg === undefined ? 1 : Number(arg);
    if (!Number.isFinite(r) || r < 0 || r > 1)
      throw new TelemetrySettingError("OTEL_TRACES_SAMPLER_ARG", "must be a number in [0, 1]");
    return r;
  };
  switch (name) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return new TraceIdRatioBasedSampler(ratio());
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio()) });
    default:
      throw new TelemetrySettingError(
        "OTEL_TRACES_SAMPLER",
        `${name} is not supported (always_on, always_off, traceidratio, parentbased_*)`,
      );
  }
}

function positiveInt(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const v = setting(env, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new TelemetrySettingError(name, "must be a positive integer");
  return n;
}

/**
 * Tracing as the environment configures it, or undefined when it is off (no endpoint and no
 * `withoutExporter`, or OTEL_SDK_DISABLED=true). Throws on a malformed OTEL_* value, so a
 * typo in the endpoint is a start-up error rather than traces silently missing.
 */
export function startTracing(options: TracingOptions): FameTracing | undefined {
  const env = options.env ?? process.env;
  if (tracingDisabled(env)) return undefined;
  const endpoint = tracesEndpointFromEnv(env);
  if (endpoint === undefined && options.withoutExporter !== true) return undefined;
  const serviceName = setting(env, "OTEL_SERVICE_NAME") ?? options.serviceName;
  const spanProcessors: SpanProcessor[] = [];
  if (endpoint !== undefined) {
    const scheduledDelayMillis = positiveInt(env, "OTEL_BSP_SCHEDULE_DELAY");
    const maxQueueSize = positiveInt(env, "OTEL_BSP_MAX_QUEUE_SIZE");
    spanProcessors.push(
      new BatchSpanProcessor(new OTLPTraceExporter({ url: endpoint }), {
        ...(scheduledDelayMillis === undefined ? {} : { scheduledDelayMillis }),
        ...(maxQueueSize === undefined ? {} : { maxQueueSize }),
      }),
    );
  }
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName }),
    sampler: samplerFromEnv(env),
    spanProcessors,
  });
  let stopped: Promise<void> | undefined;
  return {
    tracer: provider.getTracer(options.tracerName),
    endpoint,
    serviceName,
    forceFlush: () => provider.forceFlush(),
    shutdown() {
      stopped ??= bounded(provider.shutdown(), SHUTDOWN_BOUND_MS);
      return stopped;
    },
  };
}

function bounded(work: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref?.();
  });
  return Promise.race([work.catch(() => undefined), limit]).finally(() => clearTimeout(timer));
}
