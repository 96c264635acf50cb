import { BaseAgent, type CallContext, operation, RpcError, RpcErrorCode } from "@fame/sdk";

export interface MathAgentOptions {
  /** shown by whoami() and in logs, so a user can see which replica served a call */
  replica: string;
  /** called once per served operation (logging, counting) */
  onCall?: (op: string, ctx: CallContext, details?: Record<string, string>) => void;
}

function num(v: unknown, name: string): number {
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new RpcError(RpcErrorCode.INVALID_PARAMS, `${name} must be a finite number`, "invalid_params");
  }
  return v;
}

/**
 * JSON Schemas of the params, for `rpc.describe` (`fame ops`). The checks themselves stay in
 * the methods: the agent depends on no validation library, and a schema given only for
 * describe (paramsJsonSchema) validates nothing.
 */
const numbers = (...names: string[]) => ({
  type: "object",
  properties: Object.fromEntries(names.map((n) => [n, { type: "number" }])),
  required: names,
});

/** The demo agent: run two or more replicas of it behind math@fame.fabric. */
export class MathAgent extends BaseAgent {
  constructor(private readonly opts: MathAgentOptions) {
    super();
  }

  @operation({ idempotent: true, paramsJsonSchema: numbers("x", "y"), description: "x + y" })
  async add(params: { x: number; y: number }, ctx: CallContext): Promise<number> {
    this.opts.onCall?.("add", ctx);
    return num(params.x, "x") + num(params.y, "y");
  }

  @operation({ idempotent: true, paramsJsonSchema: numbers("x", "y"), description: "x * y" })
  async multiply(params: { x: number; y: number }, ctx: CallContext): Promise<number> {
    this.opts.onCall?.("multiply", ctx);
    return num(params.x, "x") * num(params.y, "y");
  }

  @operation({
    name: "fib_stream",
    streaming: true,
    paramsJsonSchema: {
      type: "object",
      properties: { n: { type: "integer", minimum: 0, maximum: 10_000 } },
      required: ["n"],
    },
    description: "streams the first n Fibonacci numbers",
  })
  async *fib(params: { n: number }, ctx: CallContext): AsyncGenerator<number> {
    this.opts.onCall?.("fib_stream", ctx);
    const n = num(params.n, "n");
    if (!Number.isInteger(n) || n < 0 || n > 10_000) {
      throw new RpcError(RpcErrorCode.INVALID_PARAMS, "n must be an integer in 0..10000", "invalid_params");
    }
    let a = 0;
    let b = 1;
    for (let i = 0; i < n; i++) {
      yield a;
      [a, b] = [b, a + b];
    }
  }

  /** waits `ms` (≤ 60 s, ends early if the caller cancels the call): lets a demo hold a call in flight */
  @operation({
    paramsJsonSchema: {
      type: "object",
      properties: { ms: { type: "number", minimum: 0, maximum: 60_000 } },
      required: ["ms"],
    },
    description: "waits ms milliseconds (ends early if the caller cancels the call), answers ms",
  })
  async sleep(params: { ms: number }, ctx: CallContext): Promise<number> {
    this.opts.onCall?.("sleep", ctx);
    const ms = num(params.ms, "ms");
    if (ms < 0 || ms > 60_000)
      throw new RpcError(RpcErrorCode.INVALID_PARAMS, "ms must be in 0..60000", "invalid_params");
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      ctx.signal.addEventListener("abort", () => {
        clearTimeout(t);
        resolve();
      });
    });
    return ms;
  }

  /**
   * Not idempotent on purpose: each execution is a side effect (a log line with
   * the id), so a test can count executions per id and catch duplicates.
   */
  @operation({
    paramsJsonSchema: {
      type: "object",
      properties: { id: { type: "string", pattern: "^[A-Za-z0-9_.:-]{1,128}$" } },
      required: ["id"],
    },
    description: "logs one line with id (not idempotent: each run is a side effect)",
  })
  async record(params: { id: string }, ctx: CallContext): Promise<{ id: string; replica: string }> {
    const id = params?.id;
    if (typeof id !== "string" || !/^[A-Za-z0-9_.:-]{1,128}$/.test(id)) {
      throw new RpcError(
        RpcErrorCode.INVALID_PARAMS,
        "id must be 1-128 of [A-Za-z0-9_.:-]",
        "invalid_params",
      );
    }
    this.opts.onCall?.("record", ctx, { id });
    return { id, replica: this.opts.replica };
  }

  /** the app-level health check a sentinel pool can be configured to call */
  @operation({ idempotent: true, description: "health check: status and replica name" })
  async health(): Promise<{ status: "ok"; replica: string }> {
    return { status: "ok", replica: this.opts.replica };
  }

  @operation({ idempotent: true, description: "the name of the replica that served the call" })
  async whoami(_params: Record<string, never>, ctx: CallContext): Promise<{ replica: string }> {
    this.opts.onCall?.("whoami", ctx);
    return { replica: this.opts.replica };
  }
}
