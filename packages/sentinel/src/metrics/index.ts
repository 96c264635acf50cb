export {
  escapeLabelValue,
  type MetricFamily,
  type MetricSample,
  type MetricType,
  PROMETHEUS_CONTENT_TYPE,
  renderPrometheus,
} from "@fame/telemetry";
export { type GateMetricsInput, gateMetricFamilies } from "./gate-metrics.js";
export { type SentinelMetricsInput, sentinelMetricFamilies } from "./sentinel-metrics.js";
