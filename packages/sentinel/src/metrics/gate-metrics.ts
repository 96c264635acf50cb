import type { HandshakeCounters } from "@fame/http-service/handshake-gate";
import type { MetricFamily } from "@fame/telemetry";

/** what the perimeter refused, by where: before the handshake, and at the attach gate */
export interface GateMetricsInput {
  handshakes: HandshakeCounters;
  /** upgrades refused with 429 (the per-IP rate, or too many from one IP still attaching) */
  rateLimited: number;
  /** upgrades refused with 503 (too many still attaching in all) */
  pendingFull: number;
}

/**
 * The perimeter's counters for /metrics, beside the status page's: an operator's alert on a
 * slowloris or an attach flood should not need the admin-token status page polled.
 */
export function gateMetricFamilies(input: GateMetricsInput): MetricFamily[] {
  return [
    {
      name: "fame_sentinel_connections_refused_total",
      help: "Connections refused before attach, by stage: handshake (closed at accept, over FAME_MAX_HANDSHAKES*), attach_rate (429), attach_pending (503).",
      type: "counter",
      samples: [
        { labels: { stage: "handshake" }, value: input.handshakes.handshakesRefused },
        { labels: { stage: "attach_rate" }, value: input.rateLimited },
        { labels: { stage: "attach_pending" }, value: input.pendingFull },
      ],
    },
    {
      name: "fame_sentinel_handshake_timeouts_total",
      help: "TLS handshakes dropped at FAME_TLS_HANDSHAKE_TIMEOUT_MS.",
      type: "counter",
      samples: [{ value: input.handshakes.handshakeTimeouts }],
    },
    {
      name: "fame_sentinel_handshaking",
      help: "Connections accepted and not yet past their HTTP request (TLS handshake, headers).",
      type: "gauge",
      samples: [{ value: input.handshakes.handshaking }],
    },
  ];
}
