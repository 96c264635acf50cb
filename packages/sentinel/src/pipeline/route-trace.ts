/**
 * The sentinel's span for a traced frame (OpenTelemetry, kind INTERNAL): from authorization
 * to delivery, with the pool, the replica chosen, or the refusal code.
 *
 * The sentinel never sees the application's trace context: that travels inside the sealed
 * record (or the signed payload). What it reads is the envelope's hop-level `traceparent`
 * meta, which the caller adds to traced calls only. It is validated strictly (exactly the
 * 55-character version-00 form, non-zero ids) and otherwise ignored, and only a sampled one
 * starts a span: a node cannot make the sentinel trace frames its own caller did not.
 */
import { type Envelope, TRACEPARENT_META } from "@fame/protocol";
import {
  isSampled,
  parseTraceparent,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@fame/telemetry";
import type { DeliverStage } from "./deliver-stage.js";
import type { RouteRequest } from "./route-request.js";

export class RouteTrace {
  readonly #tracer: Tracer;
  readonly #deliver: DeliverStage;
  /** hop headers present but malformed (ignored) */
  malformed = 0;

  constructor(tracer: Tracer, deliver: DeliverStage) {
    this.#tracer = tracer;
    this.#deliver = deliver;
  }

  /** a span when the envelope carries a valid, sampled hop traceparent; else undefined */
  start(env: Envelope, req: RouteRequest): Span | undefined {
    const value = env.meta?.[TRACEPARENT_META];
    if (value === undefined) return undefined;
    const parent = parseTraceparent(value);
    if (parent === undefined) {
      this.malformed++;
      return undefined;
    }
    if (!isSampled(parent)) return undefined;
    this.#deliver.lastNackCode = undefined;
    return this.#tracer.startSpan(
      "fame.route",
      {
        kind: SpanKind.INTERNAL,
        attributes: {
          "fame.frame": env.frame.type,
          "fame.route": req.kind,
          ...(req.address === undefined ? {} : { "fame.pool": req.address }),
        },
      },
      trace.setSpanContext(ROOT_CONTEXT, parent),
    );
  }

  /** the frame's handling is over (at once, or when `pending` settles) */
  finish(span: Span, req: RouteRequest, pending: Promise<void> | undefined): Promise<void> | undefined {
    if (pending === undefined) {
      this.#end(span, req);
      return undefined;
    }
    return pending.finally(() => this.#end(span, req));
  }

  #end(span: Span, req: RouteRequest): void {
    const to = req.routedTo;
    if (to !== undefined) {
      span.setAttribute("fame.replica", to.systemId || to.sid);
    } else {
      // exact for frames routed synchronously (data); a frame that waited (a pin check) may
      // read another frame's nack that came in between, so its code is a best effort
      span.setAttribute("fame.refusal", this.#deliver.lastNackCode ?? "not_routed");
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  }
}
