import { afterEach, describe, expect, it, vi } from "vitest";
import { BaseAgent } from "../src/agent/base-agent.js";
import { defineOperation } from "../src/agent/operation.js";
import { Agent } from "../src/agent/remote-proxy.js";
import type { CallContext } from "../src/rpc/call-context.js";
import { getDefaultEndpoint, NoFabricError, setDefaultEndpoint } from "../src/rpc/default-endpoint.js";
import { RpcEndpoint, type RpcEndpointOptions } from "../src/rpc/endpoint.js";
import { type LoopbackMessage, LoopbackNetwork } from "../src/rpc/loopback.js";
import { RpcError, RpcErrorCode } from "../src/rpc/rpc-error.js";
import type { JsonValue, RpcOutbound } from "../src/rpc/transport.js";

const MATH = "math@fame.fabric";

/** A deferred promise: lets tests hold an operation open and release it on cue. */
function gate<T = void>(): { promise: Promise<T>; open: (v: T) => void } {
  let open!: (v: T) => void;
  const promise = new Promise<T>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

class MathAgent extends BaseAgent {
  readonly slowGate = gate();
  seenContexts: CallContext[] = [];
  async add({ x, y }: { x: number; y: number }, ctx: CallContext): Promise<number> {
    this.seenContexts.push(ctx);
    return x + y;
  }
  async multiply({ x, y }: { x: number; y: number }): Promise<number> {
    return x * y;
  }
  async fail(): Promise<never> {
    throw new Error("boom: division by zero");
  }
  async refuse(): Promise<never> {
    throw new RpcError(-32010, "quota exceeded", "quota");
  }
  async slow(): Promise<string> {
    await this.slowGate.promise;
    return "done";
  }
  async bigint(): Promise<bigint> {
    return 1n;
  }
  helper(): string {
    return "not an operation";
  }
}
defineOperation(MathAgent, "add");
defineOperation(MathAgent, "multiply", { idempotent: true });
defineOperation(MathAgent, "fail");
defineOperation(MathAgent, "refuse");
defineOperation(MathAgent, "slow");
defineOperation(MathAgent, "slow", { name: "slow_limited", timeoutMs: 50 });
defineOperation(MathAgent, "bigint");

interface MathApi {
  add(p: { x: number; y: number }): Promise<number>;
  multiply(p: { x: number; y: number }): Promise<number>;
  fail(): Promise<never>;
  refuse(): Promise<never>;
  slow(): Promise<string>;
  slow_limited(): Promise<string>;
  bigint(): Promise<never>;
  helper(): Promise<string>;
}

async function setup(callerOptions: RpcEndpointOptions = {}) {
  const net = new LoopbackNetwork();
  const caller = net.createEndpoint("caller@node-a", { random: () => 0, ...callerOptions });
  const server = net.createEndpoint("server@node-b");
  const agent = new MathAgent();
  await server.serveAgent(MATH, agent);
  const sent: LoopbackMessage[] = [];
  net.tap((m) => sent.push(m));
  const requests = () => sent.filter((m) => m.to === MATH && isObject(m.payload) && "method" in m.payload);
  return { net, caller, server, agent, sent, requests };
}

function isObject(v: JsonValue): v is { [k: string]: JsonValue } {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The next message the network carries to `address`. */
function nextMessageTo(net: LoopbackNetwork, address: string): Promise<LoopbackMessage> {
  return new Promise((resolve) => {
    const stop = net.tap((m) => {
      if (m.to === address) {
        stop();
        resolve(m);
      }
    });
  });
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

afterEach(() => {
  vi.useRealTimers();
  setDefaultEndpoint(undefined);
});

describe("unary calls", () => {
  it("calls add and multiply through the typed proxy", async () => {
    const { caller, agent } = await setup();
    const math = Agent.remoteByAddress<MathApi>(MATH, { endpoint: caller });
    expect(await math.add({ x: 3, y: 4 })).toBe(7);
    expect(await math.multiply({ x: 3, y: 4 })).toBe(12);
    const ctx = agent.seenContexts[0];
    expect(ctx?.from).toBe("caller@node-a");
    expect(ctx?.address).toBe(MATH);
    expect(typeof ctx?.corrId).toBe("string");
    expect(caller.client.metrics()).toMatchObject({ calls: 2, retries: 0, failures: 0 });
  });

  it("passes envelope meta (session id) to the connection layer and the operation", async () => {
    const { caller, agent, requests } = await setup();
    const math = Agent.remoteByAddress<MathApi>(MATH, {
      endpoint: caller,
      sessionId: "s-1",
      meta: { tenant: "t" },
    });
    await math.add({ x: 1, y: 1 });
    expect(requests()[0]?.meta).toEqual({ tenant: "t", "session-id": "s-1" });
    expect(agent.seenContexts[0]?.meta).toEqual({ tenant: "t", "session-id": "s-1" });
    // an operation can neither rewrite its context nor the meta the next call will see
    const ctx = agent.seenContexts[0]!;
    expect(Object.isFrozen(ctx.meta)).toBe(true);
    expect(ctx.meta).toBe(ctx.meta);
    expect(() => {
      (ctx as { corrId: string }).corrId = "x";
    }).toThrow(TypeError);
    expect(() => {
      (ctx as { meta: unknown }).meta = {};
    }).toThrow(TypeError);
    expect(ctx.signal.aborted).toBe(false);
    // the session's last call says so; the handle's own meta is unchanged for later calls
    await math.add({ x: 2, y: 2 }, { endSession: true });
    expect(requests()[1]?.meta).toEqual({ tenant: "t", "session-id": "s-1", "session-end": "true" });
    await math.add({ x: 3, y: 3 });
    expect(requests()[2]?.meta).toEqual({ tenant: "t", "session-id": "s-1" });
    const plain = Agent.remoteByAddress<MathApi>(MATH, { endpoint: caller });
    await expect(plain.add({ x: 1, y: 1 }, { endSession: true })).rejects.toThrow(/sessionId/);
  });

  it("answers an unknown method with -32601, including non-operation members", async () => {
    const { caller } = await setup();
    const math = Agent.remoteByAddress<MathApi>(MATH, { endpoint: caller });
    for (const name of ["nope", "helper", "constructor", "toString", "__proto__", "serve"]) {
      const err = await rpcError(caller.client.call(MATH, name, {}));
      expect(err.code).toBe(RpcErrorCode.METHOD_NOT_FOUND);
      expect(err.fameCode).toBe("method_not_found");
    }
    expect((await rpcError(math.helper())).code).toBe(RpcErrorCode.METHOD_NOT_FOUND);
  });

  it("answers bad params with -32602 on the callee, and refuses them on the caller", async () => {
    const { net, caller } = await setup();
    for (const params of [[1, 2], 5, "x", null]) {
      const reply = nextMessageTo(net, "raw@node-z");
      net.inject({
        from: "raw@node-z",
        to: MATH,
        corrId: "raw-1",
        payload: { jsonrpc: "2.0", id: "raw-1", method: "add", params },
      });
      expect((await reply).payload).toEqual({
        jsonrpc: "2.0",
        id: "raw-1",
        error: {
          code: -32602,
          message: "params must be a JSON object",
          data: { fame_code: "invalid_params" },
        },
      });
    }
    const err = await rpcError(caller.client.call(MATH, "add", [1, 2]));
    expect(err.code).toBe(RpcErrorCode.INVALID_PARAMS);
    const cyclic: Record<string, unknown> = {};
    cyclic["self"] = cyclic;
    expect((await rpcError(caller.client.call(MATH, "add", cyclic))).code).toBe(RpcErrorCode.INVALID_PARAMS);
  });

  it("turns a user exception into a generic -32603: no message, no stack (they may hold internals)", async () => {
    const { net, caller } = await setup();
    const reply = nextMessageTo(net, "caller@node-a");
    const err = await rpcError(caller.client.call(MATH, "fail"));
    expect(err.code).toBe(RpcErrorCode.INTERNAL_ERROR);
    expect(err.fameCode).toBe("internal_error");
    expect(err.message).toBe("internal error in operation fail (logged by the agent)");
    const wire = (await reply).payload;
    expect(wire).toEqual({
      jsonrpc: "2.0",
      id: expect.any(String),
      error: {
        code: -32603,
        message: "internal error in operation fail (logged by the agent)",
        data: { fame_code: "internal_error" },
      },
    });
    expect(JSON.stringify(wire)).not.toContain("division");
    expect(JSON.stringify(wire)).not.toContain("rpc-calls.test");
  });

  it("passes an agent-thrown RpcError through unchanged", async () => {
    const { caller } = await setup();
    const err = await rpcError(caller.client.call(MATH, "refuse"));
    expect([err.code, err.message, err.fameCode]).toEqual([-32010, "quota exceeded", "quota"]);
  });

  it("reports a result that is not JSON as -32603", async () => {
    const { caller } = await setup();
    const err = await rpcError(caller.client.call(MATH, "bigint"));
    expect(err.code).toBe(RpcErrorCode.INTERNAL_ERROR);
    expect(err.message).toContain("not JSON-serializable");
  });
});

describe("timeouts", () => {
  it("fails a call with fame code timeout after 30 s by default", async () => {
    vi.useFakeTimers();
    const { caller } = await setup();
    const math = Agent.remoteByAddress<MathApi>(MATH, { endpoint: caller });
    const call = rpcError(math.slow());
    await vi.advanceTimersByTimeAsync(29_999);
    expect(caller.client.pendingCount).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    const err = await call;
    expect(err.fameCode).toBe("timeout");
    expect(caller.client.pendingCount).toBe(0);
    expect(caller.client.metrics()).toMatchObject({ calls: 1, retries: 0, failures: 1 });
  });

  it("honours per-operation and per-call overrides", async () => {
    vi.useFakeTimers();
    const { caller } = await setup();
    const math = Agent.remoteByAddress<MathApi>(MATH, {
      endpoint: caller,
      operationTimeoutMs: { slow: 1000 },
    });
    const a = rpcError(math.slow());
    const b = rpcError(math.slow(undefined, { timeoutMs: 200 }));
    await vi.advanceTimersByTimeAsync(200);
    expect((await b).fameCode).toBe("timeout");
    expect(caller.client.pendingCount).toBe(1);
    await vi.advanceTimersByTimeAsync(800);
    expect((await a).fameCode).toBe("timeout");
  });

  it("answers timeout from the callee when an operation exceeds its own timeoutMs", async () => {
    vi.useFakeTimers();
    const { caller, agent } = await setup();
    const call = rpcError(caller.client.call(MATH, "slow_limited"));
    await vi.advanceTimersByTimeAsync(50);
    const err = await call;
    expect([err.code, err.fameCode]).toEqual([RpcErrorCode.SERVER_ERROR, "timeout"]);
    agent.slowGate.open();
  });
});

describe("transport failures and retries", () => {
  /** Drop the first `n` requests and report `code` for each through failCall. */
  function failFirst(
    net: LoopbackNetwork,
    caller: RpcEndpoint,
    n: number,
    code: string,
    notExecuted: boolean,
  ): LoopbackMessage[] {
    const failed: LoopbackMessage[] = [];
    net.intercept((m) => {
      if (m.to !== MATH || failed.length >= n) return false;
      failed.push(m);
      queueMicrotask(() => caller.failCall(m.corrId, code, `${code} (test)`, { notExecuted }));
      return true;
    });
    return failed;
  }

  it("rejects a pending call with the fame code passed to failCall", async () => {
    const { net, caller } = await setup();
    failFirst(net, caller, 1, "not_authorized", true);
    const err = await rpcError(caller.client.call(MATH, "add", { x: 1, y: 2 }));
    expect([err.fameCode, err.message, err.notExecuted]).toEqual([
      "not_authorized",
      "not_authorized (test)",
      true,
    ]);
    expect(caller.failCall("no-such-call", "timeout", "x")).toBe(false);
  });

  it("retries channel_unknown with a new corrId after beforeRetry", async () => {
    const beforeRetry = vi.fn(async (_code: string) => {});
    let clock = 1000;
    const { net, caller, requests } = await setup({ beforeRetry, now: () => (clock += 5) });
    failFirst(net, caller, 1, "channel_unknown", false);
    const math = Agent.remoteByAddress<MathApi>(MATH, { endpoint: caller });
    expect(await math.add({ x: 3, y: 4 })).toBe(7);
    const ids = requests().map((m) => m.corrId);
    expect(ids).toHaveLength(2);
    expect(ids[0]).not.toBe(ids[1]);
    expect(requests()[1]?.payload).toMatchObject({ id: ids[1], method: "add" });
    expect(beforeRetry).toHaveBeenCalledTimes(1);
    expect(beforeRetry.mock.calls[0]?.[0]).toBe("channel_unknown");
    expect(caller.client.metrics()).toEqual({
      calls: 1,
      retries: 1,
      failovers: 1,
      failures: 0,
      lastFailoverLatencyMs: 5,
    });
  });

  it("retries replica_unavailable only when the transport proves it was not executed", async () => {
    const a = await setup();
    failFirst(a.net, a.caller, 1, "replica_unavailable", true);
    expect(await a.caller.client.call(MATH, "add", { x: 1, y: 1 })).toBe(2);
    expect(a.caller.client.metrics()).toMatchObject({ retries: 1, failovers: 1 });

    const b = await setup();
    failFirst(b.net, b.caller, 1, "replica_unavailable", false);
    const err = await rpcError(b.caller.client.call(MATH, "add", { x: 1, y: 1 }));
    expect(err.fameCode).toBe("replica_unavailable");
    expect(b.requests()).toHaveLength(1);
    expect(b.caller.client.metrics()).toMatchObject({ calls: 1, retries: 0, failovers: 0, failures: 1 });
  });

  it("retries an ambiguous failure when the caller marks the operation idempotent", async () => {
    const { net, caller, requests } = await setup();
    failFirst(net, caller, 2, "replica_unavailable", false);
    const math = Agent.remoteByAddress<MathApi>(MATH, { endpoint: caller, idempotent: ["multiply"] });
    expect(await math.multiply({ x: 6, y: 7 })).toBe(42);
    expect(requests()).toHaveLength(3);
    expect(caller.client.metrics()).toMatchObject({ calls: 1, retries: 2, failovers: 2, failures: 0 });
  });

  it("retries a timed-out idempotent call but not a non-idempotent one", async () => {
    vi.useFakeTimers();
    const { net, caller, requests } = await setup();
    let dropped = 0;
    net.intercept((m) => m.to === MATH && dropped++ === 0);
    const math = Agent.remoteByAddress<MathApi>(MATH, {
      endpoint: caller,
      idempotent: ["multiply"],
      timeoutMs: 100,
    });
    const ok = math.multiply({ x: 2, y: 5 });
    await vi.advanceTimersByTimeAsync(100);
    // Backoff is 0 ms (random() = 0); fake timers schedule a 0 ms timer set during a tick 1 ms out.
    await vi.advanceTimersByTimeAsync(1);
    expect(await ok).toBe(10);
    expect(requests()).toHaveLength(2);

    dropped = 0;
    const failed = rpcError(math.add({ x: 1, y: 2 }));
    await vi.advanceTimersByTimeAsync(100);
    expect((await failed).fameCode).toBe("timeout");
    expect(requests()).toHaveLength(3);
  });

  it("retries no_route only when configured", async () => {
    const a = await setup();
    failFirst(a.net, a.caller, 1, "no_route", true);
    expect((await rpcError(a.caller.client.call(MATH, "add", { x: 1, y: 1 }))).fameCode).toBe("no_route");

    const b = await setup({ retry: { retryNoRoute: true } });
    failFirst(b.net, b.caller, 1, "no_route", true);
    expect(await b.caller.client.call(MATH, "add", { x: 1, y: 1 })).toBe(2);
    expect(b.caller.client.metrics()).toMatchObject({ retries: 1, failovers: 0 });
  });

  it("gives up after maxRetries and counts the failure", async () => {
    const { net, caller, requests } = await setup();
    failFirst(net, caller, 100, "NOT_ACTIVE", false);
    const err = await rpcError(caller.client.call(MATH, "add", { x: 1, y: 1 }));
    expect(err.fameCode).toBe("NOT_ACTIVE");
    expect(requests()).toHaveLength(4);
    expect(caller.client.metrics()).toMatchObject({ calls: 1, retries: 3, failovers: 0, failures: 1 });
    const none = await rpcError(caller.client.call(MATH, "add", { x: 1, y: 1 }, { retry: false }));
    expect(none.fameCode).toBe("NOT_ACTIVE");
    expect(requests()).toHaveLength(5);
  });

  it("retries NOT_ACTIVE until a standby takes over and times the recovery like a failover", async () => {
    let clock = 0;
    const { net, caller, requests } = await setup({ now: () => (clock += 10) });
    failFirst(net, caller, 2, "NOT_ACTIVE", true);
    expect(await caller.client.call(MATH, "add", { x: 1, y: 1 })).toBe(2);
    expect(requests()).toHaveLength(3);
    const m = caller.client.metrics();
    // failovers counts channel/replica losses only; the latency covers the wait for promotion
    expect(m).toMatchObject({ calls: 1, retries: 2, failovers: 0, failures: 0 });
    expect(m.lastFailoverLatencyMs).toBe(10);
  });

  it("stops retrying when beforeRetry rejects", async () => {
    const { net, caller, requests } = await setup({
      beforeRetry: async () => {
        throw new Error("channel cannot be reopened");
      },
    });
    failFirst(net, caller, 1, "channel_unknown", false);
    expect((await rpcError(caller.client.call(MATH, "add", { x: 1, y: 1 }))).fameCode).toBe(
      "channel_unknown",
    );
    expect(requests()).toHaveLength(1);
  });

  it("reports no_route for an address nobody serves", async () => {
    const { caller } = await setup();
    const err = await rpcError(caller.client.call("ghost@fame.fabric", "add", { x: 1, y: 1 }));
    expect([err.fameCode, err.notExecuted]).toEqual(["no_route", true]);
  });

  it("classifies a rejected send by the RpcError the connection layer throws", async () => {
    let sends = 0;
    let endpoint: RpcEndpoint | undefined;
    const outbound: RpcOutbound = {
      replyAddress: "me@node",
      send: async (_to, payload, m) => {
        sends++;
        if (sends === 1) {
          throw new RpcError(RpcErrorCode.SERVER_ERROR, "not attached", "NOT_ACTIVE", { notExecuted: true });
        }
        const id = isObject(payload) ? payload["id"] : null;
        queueMicrotask(() =>
          endpoint?.handleIncoming({ jsonrpc: "2.0", id: id ?? null, result: "ok" }, { corrId: m.corrId }),
        );
      },
    };
    endpoint = new RpcEndpoint(outbound, { random: () => 0 });
    expect(await endpoint.client.call("x@y", "ping")).toBe("ok");
    expect(endpoint.client.metrics()).toMatchObject({ retries: 1 });

    const plain = new RpcEndpoint({
      replyAddress: "p@n",
      send: async () => Promise.reject(new Error("socket closed")),
    });
    const err = await rpcError(plain.client.call("x@y", "ping"));
    expect([err.fameCode, err.message]).toEqual(["internal_error", "send failed: socket closed"]);
  });

  it("takes a send that completes at once (no promise) or throws at once, on both ends", async () => {
    // the fabric's own outbound is synchronous in the common case: nothing to await per message
    let endpoint: RpcEndpoint | undefined;
    let failNext = false;
    const outbound: RpcOutbound = {
      replyAddress: "me@node",
      send: (_to, payload, m) => {
        if (failNext) {
          failNext = false;
          throw new RpcError(RpcErrorCode.SERVER_ERROR, "link down", "replica_unavailable", {
            notExecuted: true,
          });
        }
        const id = isObject(payload) ? payload["id"] : null;
        queueMicrotask(() =>
          endpoint?.handleIncoming({ jsonrpc: "2.0", id: id ?? null, result: "ok" }, { corrId: m.corrId }),
        );
        return undefined;
      },
    };
    endpoint = new RpcEndpoint(outbound, { random: () => 0, retry: { maxRetries: 0 } });
    expect(await endpoint.client.call("x@y", "ping")).toBe("ok");
    failNext = true;
    const err = await rpcError(endpoint.client.call("x@y", "ping"));
    expect([err.fameCode, err.notExecuted, err.message]).toEqual(["replica_unavailable", true, "link down"]);
    expect(endpoint.client.pendingCount).toBe(0);

    // a server whose reply cannot be sent reports it and keeps serving
    const seen: string[] = [];
    const served: Array<{ payload: unknown; corrId: string }> = [];
    let refuseReply = true;
    const server = new RpcEndpoint(
      {
        replyAddress: "srv@node",
        send: (_to, payload, m) => {
          if (refuseReply) {
            refuseReply = false;
            throw new Error("socket closed");
          }
          served.push({ payload, corrId: m.corrId });
          return undefined;
        },
      },
      { onDiagnostic: (d) => seen.push(d.event) },
    );
    await server.serveAgent(MATH, new MathAgent());
    for (const corrId of ["c1", "c2"]) {
      server.handleIncoming(
        { jsonrpc: "2.0", id: corrId, method: "add", params: { x: 1, y: 2 } },
        { corrId, from: "caller@node", to: MATH },
      );
    }
    // c1's result could not leave, so c1 hears that instead of waiting for its timeout
    await expect.poll(() => served.length).toBe(2);
    expect(served.map((s) => s.corrId).sort()).toEqual(["c1", "c2"]);
    expect(served.find((s) => s.corrId === "c1")?.payload).toMatchObject({
      id: "c1",
      error: { message: "result could not be sent" },
    });
    expect(served.find((s) => s.corrId === "c2")?.payload).toEqual({ jsonrpc: "2.0", id: "c2", result: 3 });
    expect(seen).toContain("reply_send_failed");
  });

  it("fails everything pending with failAll and refuses calls after close", async () => {
    const { net, caller } = await setup();
    net.intercept((m) => m.to === MATH);
    const calls = [
      rpcError(caller.client.call(MATH, "add", {})),
      rpcError(caller.client.call(MATH, "add", {})),
    ];
    await Promise.resolve();
    expect(caller.failAll("not_authorized", "connection lost")).toBe(2);
    for (const c of calls) expect((await c).fameCode).toBe("not_authorized");
    caller.close();
    expect((await rpcError(caller.client.call(MATH, "add", {}))).fameCode).toBe("NOT_ACTIVE");
  });
});

describe("limits", () => {
  it("bounds pending calls on the caller", async () => {
    const { net, caller } = await setup({ maxPendingCalls: 2 });
    net.intercept((m) => m.to === MATH);
    const a = caller.client.call(MATH, "add", {});
    const b = caller.client.call(MATH, "add", {});
    const err = await rpcError(caller.client.call(MATH, "add", {}));
    expect(err.fameCode).toBe("too_many_inflight");
    caller.failAll("not_authorized", "test over");
    await Promise.allSettled([a, b]);
  });

  it("limits in-flight calls per agent", async () => {
    const net = new LoopbackNetwork();
    const caller = net.createEndpoint("caller@a");
    const other = net.createEndpoint("caller@c");
    const server = net.createEndpoint("server@b");
    const agent = new MathAgent({ maxInflight: 2 });
    await server.serveAgent(MATH, agent);
    // two callers: one caller alone may hold only half of the slots (rpc-caller-share.test.ts)
    const first = [caller.client.call(MATH, "slow"), other.client.call(MATH, "slow")];
    const third = await rpcError(caller.client.call(MATH, "slow"));
    expect([third.code, third.fameCode]).toEqual([RpcErrorCode.SERVER_ERROR, "too_many_inflight"]);
    agent.slowGate.open();
    expect(await Promise.all(first)).toEqual(["done", "done"]);
    // Slots are released once calls finish.
    expect(await caller.client.call(MATH, "add", { x: 1, y: 1 })).toBe(2);
    expect(() => new MathAgent({ maxInflight: 0 })).toThrow(RangeError);
  });

  it("cancels a waiting call through an AbortSignal", async () => {
    const { caller } = await setup();
    const ac = new AbortController();
    const call = rpcError(caller.client.call(MATH, "slow", {}, { signal: ac.signal }));
    ac.abort();
    expect((await call).fameCode).toBe("cancelled");
    expect(caller.client.pendingCount).toBe(0);
  });
});

describe("default endpoint", () => {
  it("throws a clear error when no fabric is installed", async () => {
    expect(() => getDefaultEndpoint()).toThrow("no fabric: call inside withFabric() or connect first");
    const math = Agent.remoteByAddress<MathApi>(MATH);
    await expect(math.add({ x: 1, y: 2 })).rejects.toBeInstanceOf(NoFabricError);
    await expect(new MathAgent().serve(MATH)).rejects.toThrow("no fabric");
  });

  it("serves and calls through the installed endpoint", async () => {
    const net = new LoopbackNetwork();
    const endpoint = net.createEndpoint("node@a");
    setDefaultEndpoint(endpoint);
    const handle = await new MathAgent().serve(MATH);
    const math = Agent.remoteByAddress<MathApi>(MATH);
    expect(await math.add({ x: 20, y: 22 })).toBe(42);
    await expect(new MathAgent().serve(MATH)).rejects.toThrow("already served");
    await handle.stop();
    expect((await rpcError(math.add({ x: 1, y: 1 }))).fameCode).toBe("no_route");
  });
});
