/**
 * What a replica records about the calls it serves, when asked to: a SERVER span per call
 * (OpenTelemetry, parented by the trace context inside the request) and, per operation, the
 * serve-time histogram and call/error counters behind `fame_node_serve_seconds`. RpcServer
 * holds one of these only when tracing or metrics are on; otherwise it never calls in here.
 */
import { CHANNEL_META_KEY } from "@fame/protocol";
import {
  context,
  Histogram,
  hashAttribute,
  LATENCY_BUCKETS_SECONDS,
  type MetricFamily,
  type MetricSample,
  parseTraceContext,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@fame/telemetry";
import type { RpcRequestMessage } from "./jsonrpc.js";
import type { RpcMessageMeta } from "./transport.js";

/** Operations are named by the agent's code, but a bound keeps a scrape page small whatever it does. */
const MAX_OPERATIONS = 256;
const OTHER = "_other";

class OperationStats {
  readonly histogram = new Histogram(LATENCY_BUCKETS_SECONDS);
  errors = 0;
}

/** One served call being observed; `end` is called once, with the error code it answered with. */
export class ServedCall {
  readonly #stats: OperationStats | undefined;
  readonly #began: number;
  readonly #span: Span | undefined;

  constructor(stats: OperationStats | undefined, span: Span | undefined) {
    this.#stats = stats;
    this.#span = span;
    this.#began = performance.now();
  }

  end(errorCode: string | undefined): void {
    const stats = this.#stats;
    if (stats !== undefined) {
      stats.histogram.observe((performance.now() - this.#began) / 1000);
      if (errorCode !== undefined) stats.errors++;
    }
    const span = this.#span;
    if (span !== undefined) {
      if (errorCode !== undefined) {
        span.setAttribute("fame.error_code", errorCode);
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
    }
  }
}

export interface ServeTelemetryOptions {
  /** makes the SERVER spans; none: no spans */
  tracer?: Tracer | undefined;
  /** keep the serve-time histogram and counters (FAME_METRICS_PORT) */
  metrics?: boolean;
}

export class ServeTelemetry {
  readonly #tracer: Tracer | undefined;
  readonly #byOperation: Map<string, OperationStats> | undefined;

  constructor(options: ServeTelemetryOptions) {
    this.#tracer = options.tracer;
    this.#byOperation = options.metrics === true ? new Map() : undefined;
  }

  /** one request about to run `operation` (a registered operation name) */
  begin(operation: string, req: RpcRequestMessage, m: RpcMessageMeta, address: string): ServedCall {
    return new ServedCall(this.#statsFor(operation), this.#startSpan(operation, req, m, address));
  }

  #statsFor(operation: string): OperationStats | undefined {
    const map = this.#byOperation;
    if (map === undefined) return undefined;
    let stats = map.get(operation);
    if (stats === undefined) {
      const key = map.size < MAX_OPERATIONS ? operation : OTHER;
      stats = map.get(key);
      if (stats === undefined) {
        stats = new OperationStats();
        map.set(key, stats);
      }
    }
    return stats;
  }

  #startSpan(
    operation: string,
    req: RpcRequestMessage,
    m: RpcMessageMeta,
    address: string,
  ): Span | undefined {
    const tracer = this.#tracer;
    if (tracer === undefined) return undefined;
    // the parent comes from the request only (sealed or signed with it), never from envelope meta
    const parent = parseTraceContext(req.traceparent, req.tracestate);
    const ctx = parent === undefined ? context.active() : trace.setSpanContext(context.active(), parent);
    const span = tracer.startSpan(
      `fame.serve ${operation}`,
      {
        kind: SpanKind.SERVER,
        attributes: { "rpc.system": "fame", "rpc.method": operation, "fame.address": address },
      },
      ctx,
    );
    // the caller's principal from its certificate (strict-overlay), and the channel as a digest
    const caller = m.caller?.spiffeId;
    if (caller !== undefined) span.setAttribute("fame.caller", caller);
    const cid = m.meta?.[CHANNEL_META_KEY];
    if (cid !== undefined) span.setAttribute("fame.cid_hash", hashAttribute("cid", cid));
    return span;
  }

  /** fame_node_serve_seconds, fame_node_calls_total and fame_node_call_errors_total, by operation */
  metricFamilies(): MetricFamily[] {
    const serve: MetricSample[] = [];
    const calls: MetricSample[] = [];
    const errors: MetricSample[] = [];
    for (const [operation, stats] of this.#byOperation ?? []) {
      const labels = { operation };
      serve.push(...stats.histogram.samples(labels));
      calls.push({ labels, value: stats.histogram.count });
      errors.push({ labels, value: stats.errors });
    }
    return [
      {
        name: "fame_node_serve_seconds",
        help: "Time from a request's arrival to its final answer (a stream: its end), by operation.",
        type: "histogram",
        samples: serve,
      },
      {
        name: "fame_node_calls_total",
        help: "Calls served, by operation.",
        type: "counter",
        samples: calls,
      },
      {
        name: "fame_node_call_errors_total",
        help: "Calls served that answered with an error, by operation.",
        type: "counter",
        samples: errors,
      },
    ];
  }
}
