import { createServer, type IncomingMessage, type Server } from "node:http";
import { gunzipSync } from "node:zlib";
import { connectFabric, type Fabric, nodeConfigFromEnv } from "@fame/sdk";
import {
  binOf,
  type FabricStack,
  freePort,
  pidAlive,
  REPO_ROOT,
  startFabricStack,
  startProcess,
  stopAll,
} from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * Tracing across client, sentinel and replica with real processes: strict-overlay with
 * channel encryption (the application's trace context travels inside the sealed record), an
 * OTLP/HTTP receiver in this process, and OTEL_EXPORTER_OTLP_ENDPOINT set for all three.
 */

const MATH = "math@fame.fabric";
/** OTLP span kinds */
const KIND = { internal: 1, server: 2, client: 3 } as const;

interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, string | number | boolean>;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
}
interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}

/** OTLP/JSON ids are hex; the protobuf-JSON mapping would be base64: accept both. */
function hexId(id: unknown): string {
  if (typeof id !== "string" || id.length === 0) return "";
  return /^[0-9a-f]+$/i.test(id) ? id.toLowerCase() : Buffer.from(id, "base64").toString("hex");
}

function attributes(list: OtlpAttribute[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const a of list ?? []) {
    const v = a.value;
    out[a.key] =
      v.stringValue ?? v.boolValue ?? (v.intValue === undefined ? v.doubleValue! : Number(v.intValue));
  }
  return out;
}

/** A minimal OTLP/HTTP JSON trace receiver: POST /v1/traces, spans kept in arrival order. */
class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly contentTypes = new Set<string>();
  #waiters: { check: () => boolean; resolve: () => void }[] = [];
  #server: Server | undefined;
  url = "";

  async start(): Promise<void> {
    this.#server = createServer((req, res) => {
      if (req.method !== "POST" || req.url !== "/v1/traces") {
        res.writeHead(404).end();
        return;
      }
      this.contentTypes.add(String(req.headers["content-type"]));
      readBody(req).then(
        (body) => {
          this.#accept(JSON.parse(body.toString("utf8")));
          res.writeHead(200, { "content-type": "application/json" }).end("{}");
        },
        () => res.writeHead(400).end(),
      );
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, "127.0.0.1", resolve));
    const address = this.#server.address();
    if (typeof address !== "object" || address === null) throw new Error("receiver has no port");
    this.url = `http://127.0.0.1:${address.port}`;
  }

  #accept(body: {
    resourceSpans?: {
      resource?: { attributes?: OtlpAttribute[] };
      scopeSpans?: {
        spans?: {
          traceId: string;
          spanId: string;
          parentSpanId?: string;
          name: string;
          kind: number;
          attributes?: OtlpAttribute[];
        }[];
      }[];
    }[];
  }): void {
    for (const rs of body.resourceSpans ?? []) {
      const service = String(attributes(rs.resource?.attributes)["service.name"] ?? "");
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          this.spans.push({
            service,
            traceId: hexId(s.traceId),
            spanId: hexId(s.spanId),
            parentSpanId: hexId(s.parentSpanId),
            name: s.name,
            kind: s.kind,
            attributes: attributes(s.attributes),
          });
        }
      }
    }
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.check()) return true;
      w.resolve();
      return false;
    });
  }

  /** resolves once `check` holds after some export arrived; rejects after `ms` */
  waitFor(check: () => boolean, ms: number): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.resolve !== done);
        reject(new Error(`spans not received within ${ms} ms (have ${this.spans.length})`));
      }, ms);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.#waiters.push({ check, resolve: done });
    });
  }

  inTrace(traceId: string): ReceivedSpan[] {
    return this.spans.filter((s) => s.traceId === traceId);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server?.closeAllConnections();
      this.#server?.close(() => resolve());
    });
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 8 * 1024 * 1024) throw new Error("too large");
    chunks.push(chunk as Buffer);
  }
  const body = Buffer.concat(chunks);
  return req.headers["content-encoding"] === "gzip" ? gunzipSync(body) : body;
}

const receiver = new OtlpReceiver();
let stack: FabricStack;
let traced: Fabric;
let untraced: Fabric;
let metricsPort: number;
const tracedIds: { traceId: string; method: string }[] = [];

beforeAll(async () => {
  await receiver.start();
  // export quickly: the test waits on the spans arriving, not on a timer
  const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: "50" };
  stack = await startFabricStack({
    securityProfile: "strict-overlay",
    encryption: "channel",
    sentinelEnv: { ...otel, OTEL_SERVICE_NAME: "test-sentinel" },
  });
  metricsPort = await freePort();
  await stack.startReplica("replica1", {
    ...otel,
    OTEL_SERVICE_NAME: "test-replica",
    FAME_METRICS_PORT: String(metricsPort),
  });
  traced = await connectFabric({
    name: "trace-client",
    installDefault: false,
    config: nodeConfigFromEnv({ ...stack.clientEnv, ...otel, OTEL_SERVICE_NAME: "test-client" }),
    rpc: { onTraced: (t) => tracedIds.push({ traceId: t.traceId, method: t.method }) },
  });
  untraced = await connectFabric({
    name: "plain-client",
    installDefault: false,
    config: nodeConfigFromEnv(stack.clientEnv),
  });
}, 120_000);

afterAll(async () => {
  await traced?.close();
  await untraced?.close();
  const pids = stack?.allPids() ?? [];
  await stack?.stop();
  await stopAll();
  await receiver.close();
  for (const pid of pids) expect(pidAlive(pid)).toBe(false);
});

describe("one traced call over a sealed channel", () => {
  it("gives a client, a sentinel and a replica span in one trace, both hops children of the call", async () => {
    expect(await traced.endpoint.client.call(MATH, "add", { x: 2, y: 3 })).toBe(5);
    const call = tracedIds.find((t) => t.method === "add");
    expect(call?.traceId).toMatch(/^[0-9a-f]{32}$/);
    const traceId = call!.traceId;
    const three = () => {
      const spans = receiver.inTrace(traceId);
      return (
        spans.some((s) => s.service === "test-client") &&
        spans.some((s) => s.service === "test-sentinel") &&
        spans.some((s) => s.service === "test-replica")
      );
    };
    await receiver.waitFor(three, 20_000);
    expect([...receiver.contentTypes]).toEqual(["application/json"]);

    const spans = receiver.inTrace(traceId);
    const client = spans.find((s) => s.service === "test-client")!;
    const route = spans.find((s) => s.service === "test-sentinel")!;
    const serve = spans.find((s) => s.service === "test-replica")!;
    expect(client).toMatchObject({ name: "fame.call add", kind: KIND.client, parentSpanId: "" });
    expect(client.attributes).toMatchObject({
      "rpc.method": "add",
      "fame.address": MATH,
      "fame.retries": 0,
      "fame.failover": false,
    });
    expect(route).toMatchObject({ name: "fame.route", kind: KIND.internal, parentSpanId: client.spanId });
    expect(route.attributes).toMatchObject({ "fame.pool": MATH, "fame.frame": "Data" });
    expect(typeof route.attributes["fame.replica"]).toBe("string");
    expect(route.attributes).not.toHaveProperty("fame.refusal");
    expect(serve).toMatchObject({ name: "fame.serve add", kind: KIND.server, parentSpanId: client.spanId });
    expect(serve.attributes).toMatchObject({ "rpc.method": "add", "fame.address": MATH });
    expect(String(serve.attributes["fame.caller"])).toMatch(/^spiffe:\/\//);

    // the channel appears as the same digest on both ends, never as the cid itself
    const cidHash = client.attributes["fame.cid_hash"];
    expect(cidHash).toMatch(/^[0-9a-f]{16}$/);
    expect(serve.attributes["fame.cid_hash"]).toBe(cidHash);
    const cid = traced.node.channels.readyFor(MATH)?.cid;
    expect(cid).toBeDefined();
    expect(JSON.stringify(receiver.spans)).not.toContain(cid!);
  }, 60_000);

  it("a failed call's spans carry its error code", async () => {
    await expect(traced.endpoint.client.call(MATH, "add", { x: "two", y: 3 })).rejects.toThrow();
    const call = tracedIds.filter((t) => t.method === "add").at(-1)!;
    const done = () =>
      receiver.inTrace(call.traceId).some((s) => s.service === "test-replica") &&
      receiver.inTrace(call.traceId).some((s) => s.service === "test-client");
    await receiver.waitFor(done, 20_000);
    const spans = receiver.inTrace(call.traceId);
    const serve = spans.find((s) => s.service === "test-replica")!;
    const client = spans.find((s) => s.service === "test-client")!;
    expect(serve.attributes["fame.error_code"]).toBeDefined();
    expect(client.attributes["fame.error_code"]).toBe(serve.attributes["fame.error_code"]);
  }, 60_000);
});

describe("the hop header is the sentinel's only", () => {
  it("a forged envelope traceparent gets a sentinel span but never parents the replica's", async () => {
    const forged = `00-${"ab".repeat(16)}-${"cd".repeat(8)}-01`;
    const result = await untraced.endpoint.client.call(
      MATH,
      "add",
      { x: 1, y: 1 },
      { meta: { traceparent: forged } },
    );
    expect(result).toBe(2);
    await receiver.waitFor(() => receiver.inTrace("ab".repeat(16)).length > 0, 20_000);
    // a later traced call's spans arriving shows the replica has exported past the forged call
    expect(await traced.endpoint.client.call(MATH, "add", { x: 4, y: 4 })).toBe(8);
    const after = tracedIds.at(-1)!;
    await receiver.waitFor(
      () =>
        receiver.inTrace(after.traceId).some((s) => s.service === "test-replica") &&
        receiver.inTrace(after.traceId).some((s) => s.service === "test-sentinel"),
      20_000,
    );
    const forgedSpans = receiver.inTrace("ab".repeat(16));
    expect(forgedSpans.map((s) => s.service)).toEqual(["test-sentinel"]);
    expect(forgedSpans[0]!.parentSpanId).toBe("cd".repeat(8));
  }, 60_000);

  it("malformed hop headers are ignored: the call goes through and no span names them", async () => {
    const before = receiver.spans.length;
    for (const bad of [
      "00-ABABABABABABABABABABABABABABABAB-cdcdcdcdcdcdcdcd-01", // upper case
      `00-${"0".repeat(32)}-${"cd".repeat(8)}-01`, // zero trace id
      `01-${"ab".repeat(16)}-${"cd".repeat(8)}-01`, // another version
      `00-${"ab".repeat(16)}-${"cd".repeat(8)}-01-extra`,
      "x".repeat(200),
    ]) {
      expect(
        await untraced.endpoint.client.call(MATH, "add", { x: 1, y: 2 }, { meta: { traceparent: bad } }),
      ).toBe(3);
    }
    expect(await traced.endpoint.client.call(MATH, "add", { x: 5, y: 5 })).toBe(10);
    const last = tracedIds.at(-1)!;
    await receiver.waitFor(
      () =>
        receiver.inTrace(last.traceId).some((s) => s.service === "test-sentinel") &&
        receiver.inTrace(last.traceId).some((s) => s.service === "test-replica"),
      20_000,
    );
    const sentinelSpans = receiver.spans.slice(before).filter((s) => s.service === "test-sentinel");
    expect(sentinelSpans.every((s) => s.traceId === last.traceId)).toBe(true);
  }, 60_000);
});

describe("the replica's serve-time page (FAME_METRICS_PORT)", () => {
  it("counts every served call by operation, with a histogram of serve times", async () => {
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0.0.4/);
    const text = await res.text();
    // every add above: 1 + 1 failed + 1 forged + 5 malformed + 2 traced
    const count = Number(/^fame_node_serve_seconds_count\{operation="add"\} (\d+)$/m.exec(text)?.[1]);
    expect(count).toBe(10);
    expect(text).toMatch(/^fame_node_serve_seconds_bucket\{operation="add",le="\+Inf"\} 10$/m);
    expect(text).toMatch(/^fame_node_calls_total\{operation="add"\} 10$/m);
    expect(text).toMatch(/^fame_node_call_errors_total\{operation="add"\} 1$/m);
    // loopback only, and no other page than the probes below
    expect((await fetch(`http://127.0.0.1:${metricsPort}/`)).status).toBe(404);
  });

  it("answers a supervisor's probes: alive, and ready while attached to its sentinel", async () => {
    const health = await fetch(`http://127.0.0.1:${metricsPort}/health`);
    expect(health.status).toBe(200);
    const ready = await fetch(`http://127.0.0.1:${metricsPort}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready" });
  });
});

describe("verbose output (make run-verbose)", () => {
  it("prints each call's trace id with no exporter, and the sentinel and replica spans join it", async () => {
    const run = await startProcess({
      name: "math-client",
      script: binOf("services", "math-client"),
      cwd: REPO_ROOT,
      env: { ...stack.clientEnv, FAME_SHOW_ENVELOPES: "true", FAME_LOG_LEVEL: "info" },
    });
    expect(await run.exited).toBe(0);
    const lines = run
      .output()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map(
        (l) =>
          JSON.parse(l) as {
            msg: string;
            traceId?: string;
            operation?: string;
            meta?: Record<string, string>;
          },
      );
    const traced = lines.filter((l) => l.msg === "call traced");
    expect(traced.map((l) => l.operation)).toEqual(["add", "multiply", "fib_stream", "whoami"]);
    const add = traced[0]!.traceId!;
    expect(add).toMatch(/^[0-9a-f]{32}$/);
    // the hop header on the request envelope names the same trace
    expect(lines.some((l) => l.msg === "envelope" && l.meta?.["traceparent"]?.startsWith(`00-${add}-`))).toBe(
      true,
    );
    await receiver.waitFor(
      () =>
        receiver.inTrace(add).some((s) => s.service === "test-sentinel") &&
        receiver.inTrace(add).some((s) => s.service === "test-replica"),
      20_000,
    );
    // the client exported nothing: it had no endpoint
    expect(receiver.inTrace(add).some((s) => s.kind === KIND.client)).toBe(false);
  }, 60_000);
});
