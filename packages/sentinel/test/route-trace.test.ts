import { AttachAuthority, Sentinel } from "@fame/sentinel";
import { type Span, type SpanContext, type Tracer, trace } from "@fame/telemetry";
import { describe, expect, it } from "vitest";
import { quietLogger } from "./fake-link.js";
import { attachNode } from "./test-node.js";

interface Recorded {
  name: string;
  attributes: Record<string, unknown>;
  parent: SpanContext | undefined;
  status: number | undefined;
  ended: boolean;
}

/** a Tracer that keeps what the sentinel did with each span */
function recordingTracer(): { tracer: Tracer; spans: Recorded[] } {
  const spans: Recorded[] = [];
  const tracer = {
    startSpan(
      name: string,
      options?: { attributes?: Record<string, unknown> },
      ctx?: Parameters<Tracer["startSpan"]>[2],
    ) {
      const rec: Recorded = {
        name,
        attributes: { ...options?.attributes },
        parent: ctx === undefined ? undefined : trace.getSpanContext(ctx),
        status: undefined,
        ended: false,
      };
      spans.push(rec);
      const span = {
        setAttribute(k: string, v: unknown) {
          rec.attributes[k] = v;
          return span;
        },
        setStatus(s: { code: number }) {
          rec.status = s.code;
          return span;
        },
        end() {
          rec.ended = true;
        },
      };
      return span as unknown as Span;
    },
    startActiveSpan() {
      throw new Error("not used by the sentinel");
    },
  };
  return { tracer: tracer as unknown as Tracer, spans };
}

function tracedSentinel(tracer: Tracer): Sentinel {
  const attach = new AttachAuthority({ sentinelId: "s0", securityProfile: "open", admissionProfile: "none" });
  return new Sentinel(
    {
      sentinelId: "s0",
      securityProfile: "open",
      loadBalancing: "round_robin",
      heartbeatMs: 1000,
      heartbeatMissLimit: 3,
      attachTimeoutMs: 1000,
      maxFrameBytes: 64 * 1024,
      maxInflightPerConnection: 16,
    },
    { log: quietLogger, attach, tracer },
  );
}

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";

async function fabric() {
  const { tracer, spans } = recordingTracer();
  const s = tracedSentinel(tracer);
  const r = await attachNode(s, "r1", ["*.fame.fabric"], "open");
  const c = await attachNode(s, "c1", [], "open");
  await r.send({ frame: { type: "AddressBind", address: "math@fame.fabric" } });
  let n = 0;
  const call = (to: string, meta?: Record<string, string>) =>
    c.send({
      to,
      replyTo: `rpc@${c.session.path}`,
      corrId: `c${n++}`,
      frame: { type: "Data", codec: "json", payload: { n } },
      ...(meta === undefined ? {} : { meta }),
    });
  return { spans, r, c, call };
}

describe("the sentinel's route span", () => {
  it("is a child of the hop header's span, naming the pool and the replica chosen", async () => {
    const { spans, r, call } = await fabric();
    await call("math@fame.fabric", { traceparent: `00-${TRACE}-${SPAN}-01` });
    expect(r.link.frames("Data")).toHaveLength(1);
    expect(spans).toHaveLength(1);
    expect(spans[0]).toMatchObject({
      name: "fame.route",
      parent: { traceId: TRACE, spanId: SPAN, isRemote: true },
      ended: true,
      status: undefined,
    });
    expect(spans[0]!.attributes).toMatchObject({
      "fame.pool": "math@fame.fabric",
      "fame.replica": "r1",
      "fame.frame": "Data",
      "fame.route": "logical",
    });
  });

  it("names the refusal code when the frame is not routed", async () => {
    const { spans, call } = await fabric();
    await call("nobody@fame.fabric", { traceparent: `00-${TRACE}-${SPAN}-01` });
    expect(spans).toHaveLength(1);
    expect(spans[0]!.attributes["fame.refusal"]).toBe("no_route");
    expect(spans[0]!.attributes).not.toHaveProperty("fame.replica");
    expect(spans[0]!.status).toBe(2);
  });

  it("is not made without a header, for an unsampled one, or for a malformed one; the frame is routed all the same", async () => {
    const { spans, r, call } = await fabric();
    await call("math@fame.fabric");
    await call("math@fame.fabric", { "session-id": "s" });
    await call("math@fame.fabric", { traceparent: `00-${TRACE}-${SPAN}-00` });
    for (const bad of [
      `00-${TRACE.toUpperCase()}-${SPAN}-01`,
      `02-${TRACE}-${SPAN}-01`,
      `00-${TRACE}-${SPAN}-01-`,
      `00-${"0".repeat(32)}-${SPAN}-01`,
      "",
      "x".repeat(4096),
    ]) {
      await call("math@fame.fabric", { traceparent: bad });
    }
    expect(spans).toEqual([]);
    expect(r.link.frames("Data")).toHaveLength(9);
  });
});
