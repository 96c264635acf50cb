/**
 * Starts OpenTelemetry tracing when the OTEL_* settings ask for it (tracing-settings.ts), loading
 * the SDK (tracing-provider.ts) only then.
 */
import {
  envSetting,
  type FameTracing,
  type ProviderSettings,
  positiveInt,
  samplerSettingFromEnv,
  type TracingOptions,
  tracesEndpointFromEnv,
  tracingDisabled,
} from "./tracing-settings.js";

/**
 * Tracing as the environment configures it, or undefined when it is off (no endpoint and no
 * `withoutExporter`, or OTEL_SDK_DISABLED=true). Throws on a malformed OTEL_* value, so a
 * typo in the endpoint is a start-up error rather than traces silently missing.
 */
export async function startTracing(options: TracingOptions): Promise<FameTracing | undefined> {
  const env = options.env ?? process.env;
  if (tracingDisabled(env)) return undefined;
  const endpoint = tracesEndpointFromEnv(env);
  if (endpoint === undefined && options.withoutExporter !== true) return undefined;
  const settings: ProviderSettings = {
    endpoint,
    serviceName: envSetting(env, "OTEL_SERVICE_NAME") ?? options.serviceName,
    tracerName: options.tracerName,
    sampler: samplerSettingFromEnv(env),
    scheduledDelayMillis: positiveInt(env, "OTEL_BSP_SCHEDULE_DELAY"),
    maxQueueSize: positiveInt(env, "OTEL_BSP_MAX_QUEUE_SIZE"),
  };
  // The OpenTelemetry SDK and its exporter take ~170 ms to load: only a process that traces
  // pays for them (every agent, client and sentinel without OTEL_* settings starts faster).
  const { buildTracing } = await import("./tracing-provider.js");
  return buildTracing(settings);
}
