/**
 * Tracing settings from the standard OTEL_* variables, checked without loading the
 * OpenTelemetry SDK (tracing.ts starts it, tracing-provider.ts builds it). Tracing itself:
 * a BasicTracerProvider with a BatchSpanProcessor and an OTLP/HTTP (JSON) exporter, a
 * resource naming the service, and the sampler OTEL_TRACES_SAMPLER asks for
 * (tracing-provider.ts). Nothing is started, or even loaded, unless an endpoint is set (or ids
 * are wanted for verbose output), so a process without OTEL_* settings holds no provider at
 * all and its span sites stay a field check. Settings are checked here, before any loading.
 *
 * The provider is not registered as the global one: an application with its own OpenTelemetry
 * setup keeps it, and FAME's spans still join the application's active span as their parent.
 */
import type { Tracer } from "@opentelemetry/api";

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

const OTLP_TRACES_PATH = "v1/traces";

/** a trimmed, non-empty OTEL_* value, or undefined */
export function envSetting(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v.length === 0 ? undefined : v;
}

/** The OTLP traces URL the environment names, as the OTLP exporter specification derives it. */
export function tracesEndpointFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const traces = envSetting(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  const base = envSetting(env, "OTEL_EXPORTER_OTLP_ENDPOINT");
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
    const protocol = envSetting(env, p);
    if (protocol !== undefined && protocol !== "http/json")
      throw new TelemetrySettingError(p, `${protocol}: FAME exports OTLP over HTTP as JSON only (http/json)`);
  }
  return url;
}

/** OTEL_SDK_DISABLED=true turns tracing off whatever else is set. */
export function tracingDisabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return envSetting(env, "OTEL_SDK_DISABLED")?.toLowerCase() === "true";
}

/** Whether startTracing would start anything: an endpoint is set and the SDK is not disabled. */
export function tracingConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  return !tracingDisabled(env) && tracesEndpointFromEnv(env) !== undefined;
}

export type SamplerKind =
  | "always_on"
  | "always_off"
  | "traceidratio"
  | "parentbased_always_on"
  | "parentbased_always_off"
  | "parentbased_traceidratio";

/** What OTEL_TRACES_SAMPLER (+ _ARG) asks for; `ratio` is used by the *traceidratio kinds. */
export interface SamplerSetting {
  kind: SamplerKind;
  ratio: number;
}

const SAMPLER_KINDS: ReadonlySet<string> = new Set<SamplerKind>([
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio",
]);

/** The sampler OTEL_TRACES_SAMPLER (+ _ARG) names, checked; parentbased_always_on when unset. */
export function samplerSettingFromEnv(env: NodeJS.ProcessEnv = process.env): SamplerSetting {
  const name = envSetting(env, "OTEL_TRACES_SAMPLER")?.toLowerCase() ?? "parentbased_always_on";
  if (!SAMPLER_KINDS.has(name))
    throw new TelemetrySettingError(
      "OTEL_TRACES_SAMPLER",
      `${name} is not supported (always_on, always_off, traceidratio, parentbased_*)`,
    );
  const kind = name as SamplerKind;
  const arg = envSetting(env, "OTEL_TRACES_SAMPLER_ARG");
  if (!kind.endsWith("traceidratio") || arg === undefined) return { kind, ratio: 1 };
  const ratio = Number(arg);
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1)
    throw new TelemetrySettingError("OTEL_TRACES_SAMPLER_ARG", "must be a number in [0, 1]");
  return { kind, ratio };
}

export function positiveInt(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const v = envSetting(env, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new TelemetrySettingError(name, "must be a positive integer");
  return n;
}

/** Everything the provider is built from, checked before the SDK is loaded. */
export interface ProviderSettings {
  endpoint: string | undefined;
  serviceName: string;
  tracerName: string;
  sampler: SamplerSetting;
  scheduledDelayMillis: number | undefined;
  maxQueueSize: number | undefined;
}
