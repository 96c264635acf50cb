import { requestJson } from "@fame/http-service/client";
import { Agent, describeAgent, maxMessageBytes, type RpcError } from "@fame/sdk";
import { binOf, type FabricStack, REPO_ROOT, startFabricStack, startProcess } from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestClients, tearDown } from "../support/fabric-clients.js";

/**
 * Issue 17's defaults, with real processes: rpc.describe from the math agent, a malformed
 * address refused at once, the frame limit on both of its sides with an error naming
 * FAME_MAX_FRAME_BYTES, replica names in the sentinel's status, clients quiet by default.
 */
const FRAME_LIMIT = 1024 * 1024;

interface MathApi {
  add(p: { x: number; y: number; pad?: string }): Promise<number>;
}

let stack: FabricStack;
const clients = new TestClients(() => stack);

beforeAll(async () => {
  stack = await startFabricStack({ securityProfile: "strict-overlay", encryption: "channel" });
  await stack.startReplica("replicaA");
}, 120_000);

afterAll(() => tearDown(stack, clients));

async function failure(p: Promise<unknown>): Promise<RpcError> {
  return (await p.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: unknown) => e,
  )) as RpcError;
}

describe("SDK defaults against a real fabric", () => {
  it("the math agent answers rpc.describe with its operations and their JSON Schemas", async () => {
    const f = await clients.connect();
    const d = await describeAgent("math@fame.fabric", { endpoint: f.endpoint });
    const names = d.operations.map((o) => o.name);
    expect(names).toEqual(["add", "fib_stream", "health", "multiply", "record", "sleep", "whoami"]);
    const add = d.operations.find((o) => o.name === "add");
    expect(add).toMatchObject({ streaming: false, idempotent: true, params: { required: ["x", "y"] } });
    expect(d.operations.find((o) => o.name === "fib_stream")?.streaming).toBe(true);
  });

  it("a malformed address fails at once with bad_address, never resent", async () => {
    const f = await clients.connect();
    const before = f.endpoint.client.metrics().retries;
    const started = performance.now();
    const err = await failure(
      f.endpoint.client.call("math at fame.fabric", "add", { x: 1, y: 2 }, { idempotent: true }),
    );
    expect(err.fameCode).toBe("bad_address");
    expect(err.message).toMatch(/is not a fabric address/);
    expect(performance.now() - started).toBeLessThan(100);
    expect(f.endpoint.client.metrics().retries).toBe(before);
  });

  it("a message up to maxMessageBytes passes; one over the frame fails at once naming FAME_MAX_FRAME_BYTES", async () => {
    const f = await clients.connect({ FAME_DEFAULT_ENCRYPTION_LEVEL: "channel" });
    const math = Agent.remoteByAddress<MathApi>("math@fame.fabric", { endpoint: f.endpoint });
    const max = maxMessageBytes(FRAME_LIMIT, true);
    // the request's JSON around the pad: {"jsonrpc":"2.0","id":"…","method":"add","params":{…}}
    const overhead = 200;
    expect(await math.add({ x: 1, y: 2, pad: "x".repeat(max - overhead) })).toBe(3);
    // max is what fits on every path (base64 text form included); between two nodes that take
    // binary records up to about the frame itself passes, so the message that must fail is over it
    const err = await failure(math.add({ x: 1, y: 2, pad: "x".repeat(FRAME_LIMIT) }));
    expect(err.fameCode).toBe("frame_too_large");
    expect(err.message).toContain(`FAME_MAX_FRAME_BYTES=${FRAME_LIMIT}`);
    expect(err.message).toContain(`up to ${max} bytes`);
    // and the channel is fine afterwards
    expect(await math.add({ x: 2, y: 3 })).toBe(5);
  });

  it("the sentinel's status names replicas by FAME_REPLICA_NAME", async () => {
    const status = await requestJson<{ nodes: { name?: string; logicals: string[] }[] }>(
      `${stack.urls.sentinel}/fame/v1/status`,
      { ca: stack.trustBundle, headers: stack.adminHeaders },
    );
    expect(status.nodes.filter((n) => n.logicals.length > 0).map((n) => n.name)).toContain("replicaA");
  });

  it("a client logs only warnings unless FAME_LOG_LEVEL says otherwise", async () => {
    const { FAME_LOG_LEVEL: _, ...env } = stack.nodeEnv;
    const run = await startProcess({
      name: "math-client",
      script: binOf("services", "math-client"),
      cwd: REPO_ROOT,
      env,
    });
    expect(await run.exited).toBe(0);
    expect(run.output()).toMatch(/add\(3, 4\) = 7/);
    expect(run.output()).not.toMatch(/"level":30/);
  }, 60_000);

  it("the demo client in a loop takes FAME_NODE_NAME and prints its summary when stopped with SIGTERM", async () => {
    const run = await startProcess({
      name: "math-client-loop",
      script: binOf("services", "math-client"),
      cwd: REPO_ROOT,
      env: { ...stack.nodeEnv, FAME_CLIENT_LOOP_SEC: "120", FAME_NODE_NAME: "demo-client-7" },
      readyLine: /call 1: add = 2 on/,
      readyTimeoutMs: 30_000,
    });
    const status = await requestJson<{ nodes: { name?: string }[] }>(
      `${stack.urls.sentinel}/fame/v1/status`,
      {
        ca: stack.trustBundle,
        headers: stack.adminHeaders,
      },
    );
    expect(status.nodes.map((n) => n.name)).toContain("demo-client-7");
    expect(await run.stop("SIGTERM", 10_000)).toBe(0);
    expect(run.output()).toMatch(/done: \d+ steps \(\d+ calls\), metrics/);
  }, 60_000);
});
