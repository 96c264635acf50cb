/**
 * The OpenTelemetry SDK side of tracing, loaded by `startTracing` only when a process traces:
 * a BasicTracerProvider with a BatchSpanProcessor and an OTLP/HTTP (JSON) exporter, a resource
 * naming the service, and the sampler the settings name.
 */
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
import {
  type FameTracing,
  type ProviderSettings,
  type SamplerSetting,
  samplerSettingFromEnv,
} from "./tracing-settings.js";

const SHUTDOWN_BOUND_MS = 5000;

export function samplerOf(setting: SamplerSetting): Sampler {
  switch (setting.kind) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return new TraceIdRatioBasedSampler(setting.ratio);
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(setting.ratio) });
  }
}

/** The sampler OTEL_TRACES_SAMPLER (+ _ARG) names; parentbased_always_on when unset. */
export function samplerFromEnv(env: NodeJS.ProcessEnv = process.env): Sampler {
  return samplerOf(samplerSettingFromEnv(env));
}

export function buildTracing(settings: ProviderSettings): FameTracing {
  const spanProcessors: SpanProcessor[] = [];
  const { endpoint, scheduledDelayMillis, maxQueueSize } = settings;
  if (endpoint !== undefined) {
    spanProcessors.push(
      new BatchSpanProcessor(new OTLPTraceExporter({ url: endpoint }), {
        ...(scheduledDelayMillis === undefined ? {} : { scheduledDelayMillis }),
        ...(maxQueueSize === undefined ? {} : { maxQueueSize }),
      }),
    );
  }
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.serviceName }),
    sampler: samplerOf(settings.sampler),
    spanProcessors,
  });
  let stopped: Promise<void> | undefined;
  return {
    tracer: provider.getTracer(settings.tracerName),
    endpoint,
    serviceName: settings.serviceName,
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
