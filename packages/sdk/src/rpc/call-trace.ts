/**
 * The client span of one traced call (OpenTelemetry, kind CLIENT). Made only when the node
 * has a tracer: an untraced call never reaches this module.
 *
 * Its context travels two ways. The application's `traceparent` and `tracestate` go inside the
 * JSON-RPC request (sealed with the channel, or covered by the signature in plaintext), and the
 * replica takes its parent only from there, so no hop can re-parent or force-sample the
 * replica's span. A copy of `traceparent` alone goes in the envelope's meta, the hop header the
 * sentinel links its own route span by (docs/observability.md, "Tracing").
 */
import {
  context,
  formatTraceparent,
  hashAttribute,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
} from "@fame/telemetry";

/** The envelope meta key of the hop-level trace header the sentinel reads. */
export { TRACEPARENT_META } from "@fame/protocol";

export class ClientCallTrace {
  readonly span: Span;
  readonly traceId: string;
  /** the request member and the hop header: this span as the parent */
  readonly traceparent: string;
  readonly tracestate: string | undefined;
  /** resends so far */
  retries = 0;
  /** whether a resend went to another replica (channel_unknown, replica_unavailable) */
  failover = false;
  #cidHash: string | undefined;

  constructor(tracer: Tracer, address: string, method: string) {
    // the application's active span (if it runs its own OpenTelemetry setup) is the parent
    this.span = tracer.startSpan(
      `fame.call ${method}`,
      {
        kind: SpanKind.CLIENT,
        attributes: { "rpc.system": "fame", "rpc.method": method, "fame.address": address },
      },
      context.active(),
    );
    const sc = this.span.spanContext();
    this.traceId = sc.traceId;
    this.traceparent = formatTraceparent(sc);
    this.tracestate = sc.traceState?.serialize() || undefined;
  }

  /** the channel the call went out on: its digest, never the cid itself */
  readonly onChannel = (cid: string): void => {
    if (this.#cidHash !== undefined) return;
    this.#cidHash = hashAttribute("cid", cid);
    this.span.setAttribute("fame.cid_hash", this.#cidHash);
  };

  /** a resend after `code`; failover when it goes to another replica */
  retried(code: string, failover: boolean): void {
    this.retries++;
    if (failover) this.failover = true;
    this.span.addEvent("fame.retry", { "fame.error_code": code, "fame.failover": failover });
  }

  end(errorCode: string | undefined): void {
    this.span.setAttribute("fame.retries", this.retries);
    this.span.setAttribute("fame.failover", this.failover);
    if (errorCode !== undefined) {
      this.span.setAttribute("fame.error_code", errorCode);
      this.span.setStatus({ code: SpanStatusCode.ERROR });
    }
    this.span.end();
  }
}
