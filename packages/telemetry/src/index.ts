// The OpenTelemetry API the SDK and the sentinel instrument with, from the one copy this
// package depends on (so a span made there and a provider made here agree on its types).
export {
  type Attributes,
  type Context,
  context,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
export { hashAttribute } from "./attribute-hash.js";
export {
  Histogram,
  type HistogramSnapshot,
  histogramFamily,
  LATENCY_BUCKETS_SECONDS,
  LabeledHistograms,
} from "./histogram.js";
export {
  type MetricsListener,
  type MetricsListenerOptions,
  startMetricsListener,
} from "./metrics-listener.js";
export {
  escapeLabelValue,
  type MetricFamily,
  type MetricSample,
  type MetricType,
  PROMETHEUS_CONTENT_TYPE,
  renderPrometheus,
} from "./prometheus.js";
export {
  checkTracestate,
  formatTraceparent,
  isSampled,
  MAX_TRACESTATE_LENGTH,
  parseTraceContext,
  parseTraceparent,
  TRACEPARENT_LENGTH,
} from "./trace-context.js";
export { startTracing } from "./tracing.js";
export {
  type FameTracing,
  type ProviderSettings,
  type SamplerKind,
  type SamplerSetting,
  samplerSettingFromEnv,
  TelemetrySettingError,
  type TracingOptions,
  tracesEndpointFromEnv,
  tracingConfigured,
  tracingDisabled,
} from "./tracing-settings.js";
