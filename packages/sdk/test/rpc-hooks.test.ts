import { Writable } from "node:stream";
import { createLogger, type LogLevel } from "@fame/logger";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { BaseAgent } from "../src/agent/base-agent.js";
import { defineOperation } from "../src/agent/operation.js";
import type { CallContext } from "../src/rpc/call-context.js";
import type { CallHooks, CallOutcome } from "../src/rpc/call-hooks.js";
import { LoopbackNetwork } from "../src/rpc/loopback.js";
import type { OperationSpec } from "../src/rpc/operation-registry.js";
import { RpcError, RpcErrorCode } from "../src/rpc/rpc-error.js";
import { isRpcStream } from "../src/rpc/rpc-stream.js";

const ADDR = "vault@fame.fabric";
const SECRET = "hunter2-do-not-log";

class VaultAgent extends BaseAgent {
  ran: string[] = [];
  async open({ code }: { code: string }): Promise<string> {
    this.ran.push("open");
    return code === SECRET ? "opened" : "closed";
  }
  async jammed(_p: { code: string }): Promise<never> {
    this.ran.push("jammed");
    throw new Error(`lock jammed at /srv/vault with ${SECRET}`);
  }
  async locked(): Promise<never> {
    throw new RpcError(-32010, "vault is locked", "locked");
  }
  async *count(): AsyncGenerator<number> {
    yield 1;
    yield 2;
  }
}
defineOperation(VaultAgent, "open", { params: z.object({ code: z.string() }) });
defineOperation(VaultAgent, "jammed");
defineOperation(VaultAgent, "locked");
defineOperation(VaultAgent, "count", { streaming: true });

interface Line {
  level: number;
  msg: string;
  [k: string]: unknown;
}

function capture(level: LogLevel = "info") {
  const lines: Line[] = [];
  const raw: string[] = [];
  const log = createLogger({
    name: "vault",
    level,
    destination: new Writable({
      write(chunk, _e, cb) {
        raw.push(String(chunk));
        lines.push(JSON.parse(String(chunk)) as Line);
        cb();
      },
    }),
  });
  return { log, lines, raw };
}

async function setup(opts: { hooks?: CallHooks; level?: LogLevel } = {}) {
  const { log, lines, raw } = capture(opts.level);
  const net = new LoopbackNetwork();
  const caller = net.createEndpoint("caller@node-a");
  const server = net.createEndpoint("server@node-b", { log });
  const agent = new VaultAgent();
  await agent.serve(ADDR, { endpoint: server, ...(opts.hooks ? { hooks: opts.hooks } : {}) });
  return { caller, agent, lines, raw };
}

async function rpcError(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof RpcError) return err;
    throw err;
  }
  throw new Error("expected the call to fail");
}

describe("call hooks", () => {
  it("runs before and after around each call, with the operation and how it ended", async () => {
    const seen: { when: string; op: string; outcome?: CallOutcome; ms?: number; caller?: string }[] = [];
    const { caller } = await setup({
      hooks: {
        before: (ctx: CallContext, op: OperationSpec) => {
          seen.push({ when: "before", op: op.name, caller: ctx.caller.sid });
        },
        after: (_ctx, op, outcome, ms) => {
          seen.push({ when: "after", op: op.name, outcome, ms });
        },
      },
    });
    expect(await caller.client.call(ADDR, "open", { code: SECRET })).toBe("opened");
    await rpcError(caller.client.call(ADDR, "locked"));
    expect(seen.map((s) => `${s.when}:${s.op}`)).toEqual([
      "before:open",
      "after:open",
      "before:locked",
      "after:locked",
    ]);
    expect(seen[0]?.caller).toBe("caller@node-a");
    expect(seen[1]?.outcome).toEqual({ ok: true });
    expect(seen[1]?.ms).toBeGreaterThanOrEqual(0);
    expect(seen[3]?.outcome).toMatchObject({ ok: false, code: -32010, fameCode: "locked" });
  });

  it("lets an (async) before hook refuse a call: the operation does not run", async () => {
    const outcomes: CallOutcome[] = [];
    const { caller, agent } = await setup({
      hooks: {
        before: async (ctx) => {
          await Promise.resolve();
          if (ctx.caller.sid !== "trusted@node")
            throw new RpcError(-32003, "not on the list", "not_authorized");
        },
        after: (_c, _o, outcome) => {
          outcomes.push(outcome);
        },
      },
    });
    const err = await rpcError(caller.client.call(ADDR, "open", { code: "x" }));
    expect([err.code, err.message, err.fameCode]).toEqual([-32003, "not on the list", "not_authorized"]);
    expect(agent.ran).toEqual([]);
    expect(outcomes[0]).toMatchObject({ ok: false, fameCode: "not_authorized" });
  });

  it("runs after validation: invalid params never reach before", async () => {
    let befores = 0;
    const { caller } = await setup({ hooks: { before: () => void befores++ } });
    expect((await rpcError(caller.client.call(ADDR, "open", { code: 7 }))).code).toBe(
      RpcErrorCode.INVALID_PARAMS,
    );
    expect(befores).toBe(0);
  });

  it("calls after once a stream has ended, and ignores an after hook that throws", async () => {
    const ended: string[] = [];
    const { caller, lines } = await setup({
      hooks: {
        after: (_c, op) => {
          ended.push(op.name);
          throw new Error("metrics backend down");
        },
      },
    });
    const stream = await caller.client.call(ADDR, "count", {}, { streamWindow: 4 });
    if (!isRpcStream(stream)) throw new Error("not a stream");
    const items: unknown[] = [];
    for await (const v of stream) items.push(v);
    expect(items).toEqual([1, 2]);
    await expect.poll(() => ended).toEqual(["count"]);
    expect(await caller.client.call(ADDR, "open", { code: SECRET })).toBe("opened");
    expect(lines.some((l) => l.msg === "after hook threw")).toBe(true);
  });

  it("refuses hooks that are not functions", async () => {
    const net = new LoopbackNetwork();
    const server = net.createEndpoint("server@node-b");
    await expect(
      new VaultAgent().serve(ADDR, { endpoint: server, hooks: { before: "nope" as never } }),
    ).rejects.toThrow(/hooks.before/);
  });
});

describe("failed calls in the agent's log", () => {
  it("logs an unexpected error at warn with its stack; the caller gets no internals", async () => {
    const { caller, lines, raw } = await setup();
    const err = await rpcError(caller.client.call(ADDR, "jammed", { code: SECRET }));
    expect(err.message).toBe("internal error in operation jammed (logged by the agent)");
    expect(err.message).not.toContain("/srv/vault");
    const line = lines.find((l) => l.msg === "operation threw");
    expect(line).toMatchObject({ level: 40, op: "jammed", address: ADDR, caller: "caller@node-a" });
    expect(String(line?.["stack"])).toContain("rpc-hooks.test");
    // no corrId at info; params never, though the error's own text may carry what the agent put in it
    expect(line?.["corrId"]).toBeUndefined();
    expect(raw.join("")).not.toContain('"code":"hunter2');
  });

  it("logs an RpcError at warn with its codes, and invalid params at info", async () => {
    const { caller, lines, raw } = await setup();
    await rpcError(caller.client.call(ADDR, "locked"));
    await rpcError(caller.client.call(ADDR, "open", { code: 42, pin: SECRET }));
    expect(lines.find((l) => l.msg === "operation failed")).toMatchObject({
      level: 40,
      op: "locked",
      code: -32010,
      fameCode: "locked",
      error: "vault is locked",
    });
    expect(lines.find((l) => l.msg === "call refused: invalid params")).toMatchObject({
      level: 30,
      op: "open",
    });
    expect(raw.join("")).not.toContain(SECRET);
  });

  it("adds the corrId only at debug", async () => {
    const { caller, lines } = await setup({ level: "debug" });
    await rpcError(caller.client.call(ADDR, "locked"));
    expect(typeof lines.find((l) => l.msg === "operation failed")?.["corrId"]).toBe("string");
  });
});
