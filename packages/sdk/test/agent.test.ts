/**
 * Agents written with real `@operation()` decorator syntax.
 *
 * The unit-test transform (Vite 8 / oxc) cannot lower TC39 standard decorators, so decorated
 * classes are compiled here with the TypeScript compiler — the same emit users get from tsc —
 * and evaluated with the SDK's exports in scope.
 */
import ts from "typescript";
import { afterEach, describe, expect, expectTypeOf, it } from "vitest";
import { BaseAgent } from "../src/agent/base-agent.js";
import { operation, operationsOf } from "../src/agent/operation.js";
import { Agent } from "../src/agent/remote-proxy.js";
import type { CallContext } from "../src/rpc/call-context.js";
import { setDefaultEndpoint } from "../src/rpc/default-endpoint.js";
import { LoopbackNetwork } from "../src/rpc/loopback.js";
import { RetryPolicyError } from "../src/rpc/retry-policy.js";
import { RpcError, RpcErrorCode } from "../src/rpc/rpc-error.js";
import { isRpcStream } from "../src/rpc/rpc-stream.js";
import type { JsonValue } from "../src/rpc/transport.js";

type AgentClass = new () => BaseAgent;

/** Compile TypeScript source that ends in `return { ...classes }`, with the SDK in scope. */
function compileAgents(source: string): Record<string, AgentClass> {
  const scope = { BaseAgent, operation, RpcError };
  const names = Object.keys(scope);
  const wrapped = `function __define({ ${names.join(", ")} }) {\n${source}\n}`;
  const out = ts.transpileModule(wrapped, {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.None },
    reportDiagnostics: true,
  });
  expect(out.diagnostics?.map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"))).toEqual([]);
  const define = new Function(`${out.outputText}\nreturn __define;`)() as (
    s: typeof scope,
  ) => Record<string, AgentClass>;
  return define(scope);
}

const MATH_SOURCE = `
class MathAgent extends BaseAgent {
  @operation() async add({ x, y }: { x: number; y: number }) { return x + y; }
  @operation() async multiply({ x, y }: { x: number; y: number }) { return x * y; }
  @operation({ name: "fib_stream", streaming: true }) async *fib({ n }: { n: number }) { let a=0,b=1; for (let i=0;i<n;i++){ yield a; [a,b]=[b,a+b]; } }
}
return { MathAgent };
`;

function fabric() {
  const net = new LoopbackNetwork();
  const endpoint = net.createEndpoint("node@a");
  setDefaultEndpoint(endpoint);
  return { net, endpoint };
}

afterEach(() => {
  setDefaultEndpoint(undefined);
});

describe("@operation agents", () => {
  it("runs the user example end to end", async () => {
    fabric();
    const { MathAgent } = compileAgents(MATH_SOURCE);
    if (MathAgent === undefined) throw new Error("class missing");
    await new MathAgent().serve("math@fame.fabric");
    // Untyped: any name is an operation. (Under noUncheckedIndexedAccess an index-signature
    // member may be undefined to the compiler, hence `!`; typed proxies need no such thing.)
    const math = Agent.remoteByAddress("math@fame.fabric");
    expect(await math.add!({ x: 3, y: 4 })).toBe(7);
    expect(await math.multiply!({ x: 3, y: 4 })).toBe(12);
    const out: JsonValue[] = [];
    const stream = await math.fib_stream!({ n: 10 });
    if (!isRpcStream(stream)) throw new Error("expected a stream");
    for await (const v of stream) out.push(v);
    expect(out).toEqual([0, 1, 1, 2, 3, 5, 8, 13, 21, 34]);
    // The wire name replaces the method name.
    await expect(math.fib!({ n: 1 })).rejects.toMatchObject({ code: RpcErrorCode.METHOD_NOT_FOUND });
    expect([...operationsOf(MathAgent).keys()]).toEqual(["add", "multiply", "fib_stream"]);
  });

  it("types the proxy after an interface", async () => {
    fabric();
    const { MathAgent } = compileAgents(MATH_SOURCE);
    await new (MathAgent as AgentClass)().serve("math@fame.fabric");
    interface MathApi {
      add(p: { x: number; y: number }): Promise<number>;
      fib_stream(p: { n: number }): AsyncIterable<number>;
    }
    const math = Agent.remoteByAddress<MathApi>("math@fame.fabric");
    expectTypeOf(math.add).parameter(0).toEqualTypeOf<{ x: number; y: number }>();
    expectTypeOf(math.add).returns.resolves.toEqualTypeOf<number>();
    expectTypeOf(math.fib_stream).returns.resolves.toEqualTypeOf<AsyncIterable<number>>();
    const sum: number = await math.add({ x: 1, y: 2 });
    expect(sum).toBe(3);
    const items: number[] = [];
    for await (const v of await math.fib_stream({ n: 5 })) items.push(v);
    expect(items).toEqual([0, 1, 1, 2, 3]);
  });

  it("types the proxy after an agent class, without BaseAgent members", () => {
    class Typed extends BaseAgent {
      async add(p: { x: number }, _ctx: CallContext): Promise<number> {
        return p.x;
      }
      async *ticks(): AsyncGenerator<string> {
        yield "t";
      }
    }
    const remote = Agent.remoteByAddress<Typed>("typed@x");
    expectTypeOf(remote.add).returns.resolves.toEqualTypeOf<number>();
    expectTypeOf(remote.ticks).returns.resolves.toEqualTypeOf<AsyncIterable<string>>();
    expectTypeOf(remote).not.toHaveProperty("serve");
    expect(typeof remote.add).toBe("function");
  });

  it("inherits operations, dispatches overrides, and lets subclasses rename", async () => {
    const { endpoint } = fabric();
    const { Base, Derived, Renamed } = compileAgents(`
      class Base extends BaseAgent {
        @operation() async hello() { return "base"; }
        @operation() async who() { return "base"; }
      }
      class Derived extends Base {
        @operation() async extra() { return 1; }
        async who() { return "derived"; }
      }
      class Renamed extends Base {
        @operation({ name: "hello" }) async greet() { return "renamed"; }
      }
      return { Base, Derived, Renamed };
    `);
    await new (Derived as AgentClass)().serve("derived@x");
    await new (Base as AgentClass)().serve("base@x");
    await new (Renamed as AgentClass)().serve("renamed@x");
    const call = (address: string, method: string) => endpoint.client.call(address, method);
    expect(await call("derived@x", "hello")).toBe("base");
    expect(await call("derived@x", "who")).toBe("derived");
    expect(await call("derived@x", "extra")).toBe(1);
    await expect(call("base@x", "extra")).rejects.toMatchObject({ code: RpcErrorCode.METHOD_NOT_FOUND });
    expect(await call("renamed@x", "hello")).toBe("renamed");
    expect(await call("renamed@x", "who")).toBe("base");
  });

  it("passes the call context as the second argument", async () => {
    const { endpoint } = fabric();
    const { Ctx } = compileAgents(`
      class Ctx extends BaseAgent {
        @operation() async whoami(params, ctx) {
          return { params, from: ctx.from, corrId: ctx.corrId, address: ctx.address, aborted: ctx.signal.aborted };
        }
      }
      return { Ctx };
    `);
    await new (Ctx as AgentClass)().serve("ctx@x");
    const result = (await endpoint.client.call("ctx@x", "whoami")) as Record<string, JsonValue>;
    expect(result).toMatchObject({ params: {}, from: "node@a", address: "ctx@x", aborted: false });
    expect(typeof result["corrId"]).toBe("string");
  });

  it("enforces the in-flight limit configured through the constructor", async () => {
    const { endpoint } = fabric();
    const { Busy } = compileAgents(`
      let release;
      const held = new Promise((r) => { release = r; });
      class Busy extends BaseAgent {
        constructor() { super({ maxInflight: 1 }); }
        @operation() async wait() { await held; return "ok"; }
        @operation() async free() { release(); return true; }
      }
      return { Busy };
    `);
    await new (Busy as AgentClass)().serve("busy@x");
    const first = endpoint.client.call("busy@x", "wait");
    await expect(endpoint.client.call("busy@x", "free")).rejects.toMatchObject({
      fameCode: "too_many_inflight",
    });
    // Release the held call through a second agent instance of the same class (own limit).
    await new (Busy as AgentClass)().serve("busy2@x");
    expect(await endpoint.client.call("busy2@x", "free")).toBe(true);
    expect(await first).toBe("ok");
  });

  it("rejects misuse at class definition time", () => {
    expect(() =>
      compileAgents(`class A extends BaseAgent { @operation() static s() {} } return { A };`),
    ).toThrow(/static/);
    expect(() => compileAgents(`class A extends BaseAgent { @operation() #p() {} } return { A };`)).toThrow(
      /private/,
    );
    expect(() => compileAgents(`class A extends BaseAgent { @operation() x = 1; } return { A };`)).toThrow(
      /methods/,
    );
    expect(() =>
      compileAgents(`class A extends BaseAgent {
        @operation({ name: "same" }) a() {}
        @operation({ name: "same" }) b() {}
      } return { A };`),
    ).toThrow(/used by both/);
    expect(() =>
      compileAgents(`class A extends BaseAgent { @operation({ name: "rpc.x" }) a() {} } return { A };`),
    ).toThrow(/reserved/);
    expect(() => operation({ timeoutMs: -1 })).toThrow(RangeError);
    expect(() => operation({ name: 5 as unknown as string })).toThrow(TypeError);
  });

  it("installs Symbol.metadata for Node 20", () => {
    expect(typeof (Symbol as { metadata?: symbol }).metadata).toBe("symbol");
  });
});

describe("remote proxy", () => {
  it("is not thenable and ignores symbols and reserved names", async () => {
    const proxy = Agent.remoteByAddress("math@fame.fabric");
    const record = proxy as unknown as Record<string | symbol, unknown>;
    expect(record["then"]).toBeUndefined();
    expect(record["toJSON"]).toBeUndefined();
    expect(record[Symbol.iterator]).toBeUndefined();
    expect(record[Symbol.asyncIterator]).toBeUndefined();
    expect(await Promise.resolve(proxy)).toBe(proxy);
    expect(JSON.stringify(proxy)).toBe("{}");
    expect(String(proxy)).toBe("[RemoteAgent math@fame.fabric]");
    expect(typeof proxy.anything).toBe("function");
    expect(proxy.add).toBe(proxy.add);
    expect(() => {
      (proxy as unknown as Record<string, unknown>)["add"] = 1;
    }).toThrow(TypeError);
  });

  it("validates its options eagerly", () => {
    expect(() => Agent.remoteByAddress("x@y", { retry: { factor: 0 } })).toThrow(RetryPolicyError);
    expect(() => Agent.remoteByAddress("")).toThrow(TypeError);
    expect(() => Agent.remoteByAddress("x@y", { idempotent: [1 as unknown as string] })).toThrow(TypeError);
  });
});
