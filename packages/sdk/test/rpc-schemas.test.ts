import type { StandardSchemaV1 } from "@standard-schema/spec";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { BaseAgent } from "../src/agent/base-agent.js";
import { describeAgent } from "../src/agent/describe-agent.js";
import { defineOperation, operation } from "../src/agent/operation.js";
import type { CallContext } from "../src/rpc/call-context.js";
import { DESCRIBE_METHOD, parseAgentDescription } from "../src/rpc/describe.js";
import { LoopbackNetwork } from "../src/rpc/loopback.js";
import { describeIssues } from "../src/rpc/params-schema.js";
import { RpcError, RpcErrorCode } from "../src/rpc/rpc-error.js";

const STATS = "stats@fame.fabric";

const AddParams = z.object({ x: z.number(), y: z.number().default(0) });
const Point = z.object({ points: z.array(z.object({ x: z.number() })).max(3), label: z.string().optional() });

/** An async Standard Schema validator, hand-made: not every library validates synchronously. */
const asyncPositive: StandardSchemaV1<{ n: number }, { n: number; doubled: number }> = {
  "~standard": {
    version: 1,
    vendor: "test",
    validate: async (value) => {
      const n = (value as { n?: unknown }).n;
      if (typeof n === "number" && n > 0) return { value: { n, doubled: n * 2 } };
      return { issues: [{ message: "must be a positive number", path: [{ key: "n" }] }] };
    },
  },
};

/** A schema whose JSON Schema cannot be made (zod cannot describe a transform's input… its output). */
const untranslatable = z.object({ at: z.date() });

class StatsAgent extends BaseAgent {
  calls = 0;

  @operation({ params: AddParams, idempotent: true, description: "adds x and y" })
  async add(params: z.infer<typeof AddParams>): Promise<number> {
    this.calls++;
    return params.x + params.y;
  }

  @operation({ params: Point })
  async count({ points }: z.infer<typeof Point>): Promise<number> {
    return points.length;
  }

  @operation({ params: asyncPositive })
  async twice(params: { n: number; doubled: number }): Promise<number> {
    return params.doubled;
  }

  @operation({ params: untranslatable })
  async when(_params: { at: Date }): Promise<string> {
    return "never called with JSON";
  }

  @operation({
    streaming: true,
    paramsJsonSchema: { type: "object", properties: { n: { type: "integer" } } },
  })
  async *upTo({ n }: { n: number }): AsyncGenerator<number> {
    for (let i = 0; i < n; i++) yield i;
  }

  async plain(): Promise<string> {
    return "plain";
  }
}
defineOperation(StatsAgent, "plain", { params: z.object({}).strict() });

async function setup() {
  const net = new LoopbackNetwork();
  const caller = net.createEndpoint("caller@node-a");
  const server = net.createEndpoint("server@node-b");
  const agent = new StatsAgent();
  await server.serveAgent(STATS, agent);
  return { caller, agent };
}

async function rpcError(promise: Promise<unknown>): Promise<RpcError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof RpcError) return err;
    throw err;
  }
  throw new Error("expected the call to fail");
}

describe("params schemas (Standard Schema)", () => {
  it("passes the validated output to the method (defaults applied)", async () => {
    const { caller } = await setup();
    expect(await caller.client.call(STATS, "add", { x: 3, y: 4 })).toBe(7);
    expect(await caller.client.call(STATS, "add", { x: 3 })).toBe(3);
  });

  it("answers invalid params with -32602 naming each path, and never runs the method", async () => {
    const { caller, agent } = await setup();
    const wrongType = await rpcError(caller.client.call(STATS, "add", { x: "3", y: 4 }));
    expect(wrongType.code).toBe(RpcErrorCode.INVALID_PARAMS);
    expect(wrongType.fameCode).toBe("invalid_params");
    expect(wrongType.message).toMatch(/^invalid params: params\.x: .*expected number/);
    const missing = await rpcError(caller.client.call(STATS, "add", {}));
    expect(missing.message).toMatch(/params\.x: /);
    const nested = await rpcError(caller.client.call(STATS, "count", { points: [{ x: 1 }, { x: "no" }] }));
    expect(nested.message).toMatch(/params\.points\[1\]\.x: .*expected number/);
    expect(agent.calls).toBe(0);
  });

  it("awaits an async validator and reports its issues the same way", async () => {
    const { caller } = await setup();
    expect(await caller.client.call(STATS, "twice", { n: 21 })).toBe(42);
    const err = await rpcError(caller.client.call(STATS, "twice", { n: -1 }));
    expect([err.code, err.message]).toEqual([-32602, "invalid params: params.n: must be a positive number"]);
  });

  it("works with defineOperation (no decorators)", async () => {
    const { caller } = await setup();
    expect(await caller.client.call(STATS, "plain", {})).toBe("plain");
    const err = await rpcError(caller.client.call(STATS, "plain", { extra: 1 }));
    expect(err.code).toBe(RpcErrorCode.INVALID_PARAMS);
  });

  it("names issues compactly and boundedly", () => {
    expect(describeIssues([{ message: "required", path: ["a", 0, "b-c"] }])).toBe(
      'invalid params: params.a[0]["b-c"]: required',
    );
    expect(describeIssues([{ message: "expected object" }])).toBe("invalid params: params: expected object");
    const many = Array.from({ length: 9 }, (_, i) => ({ message: "bad", path: [`k${i}`] }));
    expect(describeIssues(many)).toMatch(/params\.k4: bad \(and 4 more\)$/);
    expect(describeIssues([{ message: "x".repeat(5000) }]).length).toBeLessThanOrEqual(1024);
  });

  it("types the method's params after the schema's output (a mismatch does not compile)", () => {
    class Typed extends BaseAgent {
      // @ts-expect-error the schema outputs { x: number; y: number }, the method wants a string
      @operation({ params: AddParams })
      async wrong(params: { x: string }): Promise<string> {
        return params.x;
      }
      @operation({ params: AddParams })
      async wider(params: { x: number }): Promise<number> {
        return params.x;
      }
    }
    expect(new Typed()).toBeInstanceOf(BaseAgent);
  });

  it("refuses options that are not a Standard Schema or JSON", () => {
    class Bad extends BaseAgent {
      async op(): Promise<void> {}
    }
    expect(() => defineOperation(Bad, "op", { params: {} as never })).toThrow(/Standard Schema/);
    expect(() => defineOperation(Bad, "op", { paramsJsonSchema: { f: (() => 1) as never } })).toThrow(
      /JSON Schema/,
    );
    expect(() => defineOperation(Bad, "op", { description: "d".repeat(2000) })).toThrow(/description/);
  });
});

describe("rpc.describe", () => {
  it("lists every operation with its flags, JSON Schemas and descriptions, in name order", async () => {
    const { caller } = await setup();
    const d = await describeAgent(STATS, { endpoint: caller });
    expect(d.operations.map((o) => o.name)).toEqual(["add", "count", "plain", "twice", "upTo", "when"]);
    const byName = new Map(d.operations.map((o) => [o.name, o]));
    expect(byName.get("add")).toMatchObject({
      streaming: false,
      idempotent: true,
      description: "adds x and y",
      params: {
        type: "object",
        properties: { x: { type: "number" }, y: { type: "number" } },
        required: ["x"],
      },
    });
    expect(byName.get("upTo")).toEqual({
      name: "upTo",
      streaming: true,
      idempotent: false,
      params: { type: "object", properties: { n: { type: "integer" } } },
    });
    // no converter (hand-made schema) or a schema zod cannot express: no params, no failure
    expect(byName.get("twice")).toEqual({ name: "twice", streaming: false, idempotent: false });
    expect(byName.get("when")?.params).toBeUndefined();
  });

  it("is answered for an agent without schemas, and calling it costs no call slot", async () => {
    const net = new LoopbackNetwork();
    const caller = net.createEndpoint("caller@node-a");
    const server = net.createEndpoint("server@node-b");
    class Tiny extends BaseAgent {
      async ping(_p: unknown, _ctx: CallContext): Promise<string> {
        return "pong";
      }
    }
    defineOperation(Tiny, "ping");
    await server.serveAgent("tiny@fame.fabric", new Tiny({ maxInflight: 1 }));
    const raw = await caller.client.call("tiny@fame.fabric", DESCRIBE_METHOD, {});
    expect(raw).toEqual({ operations: [{ name: "ping", streaming: false, idempotent: false }] });
    expect(server.activeCalls).toBe(0);
  });

  it("refuses an operation named rpc.* at definition", () => {
    class Sneaky extends BaseAgent {
      async d(): Promise<void> {}
    }
    expect(() => defineOperation(Sneaky, "d", { name: DESCRIBE_METHOD })).toThrow(/reserved/);
  });

  it("checks a describe answer from the network before trusting it", () => {
    expect(() => parseAgentDescription({})).toThrow(/operations/);
    expect(() =>
      parseAgentDescription({ operations: [{ name: "", streaming: false, idempotent: false }] }),
    ).toThrow(/name/);
    expect(() =>
      parseAgentDescription({ operations: [{ name: "a", streaming: "yes", idempotent: false }] }),
    ).toThrow(/boolean/);
    expect(() =>
      parseAgentDescription({
        operations: [{ name: "a", streaming: false, idempotent: false, params: [1] }],
      }),
    ).toThrow(/params/);
    expect(
      parseAgentDescription({ operations: [{ name: "a", streaming: false, idempotent: true, extra: 1 }] }),
    ).toEqual({ operations: [{ name: "a", streaming: false, idempotent: true }] });
  });
});
