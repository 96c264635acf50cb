export {
  Histogram,
  type HistogramSnapshot,
  histogramFamily,
  LATENCY_BUCKETS_SECONDS,
  LabeledHistograms,
} from "./histogram.js";
export {
  escapeLabelValue,
  type MetricFamily,
  type MetricSample,
  type MetricType,
  PROMETHEUS_CONTENT_TYPE,
  renderPrometheus,
} from "./prometheus.js";
