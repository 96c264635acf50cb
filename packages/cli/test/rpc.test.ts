import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "@fame/config";
import { BaseAgent, FameRpcCode, LoopbackNetwork, operation, RpcError, RpcErrorCode } from "@fame/sdk";
import { describe, expect, it } from "vitest";
import { cliLogLevel, humanLogLine, parseDuration } from "../src/client.js";
import { describeAt, paramsText, parseParams, renderOperations } from "../src/commands/rpc.js";
import { explain } from "../src/errors.js";
import { CliError, EXIT } from "../src/exit-codes.js";
import { fakeCheckout, fakeIo } from "./fake-io.js";

describe("params and options", () => {
  it("parses a JSON object of named params, {} when absent; anything else is a usage error", () => {
    expect(parseParams('{"x":3,"y":4}')).toEqual({ x: 3, y: 4 });
    expect(parseParams(undefined)).toEqual({});
    expect(() => parseParams("[1,2]")).toThrow(/JSON object of named parameters/);
    for (const bad of ["{x:3}", "3", "null", '"s"', "", "[1,2]"])
      expect(() => parseParams(bad), bad).toThrow(CliError);
  });

  it("reads durations with units and bounds them", () => {
    expect(parseDuration("5000")).toBe(5000);
    expect(parseDuration("5s")).toBe(5000);
    expect(parseDuration("1.5s")).toBe(1500);
    expect(parseDuration("2m")).toBe(120_000);
    expect(parseDuration("250ms")).toBe(250);
    for (const bad of ["0", "5", "-1s", "soon", "61m"])
      expect(() => parseDuration(bad), bad).toThrow(CliError);
  });

  it("logs at warn unless FAME_LOG_LEVEL says otherwise, and refuses a typo", () => {
    expect(cliLogLevel({})).toBe("warn");
    expect(cliLogLevel({ FAME_LOG_LEVEL: "debug" })).toBe("debug");
    // the envelope lines are at info: asking for them is asking for info
    expect(cliLogLevel({}, true)).toBe("info");
    expect(cliLogLevel({ FAME_LOG_LEVEL: "error" }, true)).toBe("error");
    expect(() => cliLogLevel({ FAME_LOG_LEVEL: "loud" })).toThrow(/FAME_LOG_LEVEL/);
  });

  it("turns a JSON log line into one readable line", () => {
    expect(
      humanLogLine('{"level":40,"time":"t","pid":1,"name":"fame","msg":"reconnecting","attempt":2}'),
    ).toBe('fame: warn: reconnecting {"attempt":2}\n');
    expect(humanLogLine("not json\n")).toBe("not json\n");
  });
});

describe("rpc.describe answers", () => {
  it("render as a table sorted by name, with a params summary", () => {
    const lines = renderOperations([
      {
        name: "fib_stream",
        streaming: true,
        idempotent: false,
        params: { type: "object", properties: { n: { type: "integer" } }, required: ["n"] },
      },
      {
        name: "add",
        streaming: false,
        idempotent: true,
        params: {
          type: "object",
          properties: { x: { type: "number" }, y: { type: "number" } },
          required: ["x", "y"],
        },
        description: "x + y",
      },
      { name: "whoami", streaming: false, idempotent: true },
    ]).split("\n");
    expect(lines[0]).toMatch(/^OPERATION\s+STREAMING\s+IDEMPOTENT\s+PARAMS\s+DESCRIPTION$/);
    expect(lines[1]).toMatch(/^add\s+no\s+yes\s+\{ x: number, y: number \}\s+x \+ y$/);
    expect(lines[2]).toMatch(/^fib_stream\s+yes\s+no\s+\{ n: integer \}$/);
    expect(lines[3]).toMatch(/^whoami\s+no\s+yes\s+-$/);
    expect(renderOperations([])).toBe("(no operations)");
  });
});

class Tiny extends BaseAgent {
  @operation({ idempotent: true, description: "pong" })
  async ping(): Promise<string> {
    return "pong";
  }
}

/** a client on a loopback network where `old@x` answers every request as `reply` says */
function oldAgent(reply: (id: unknown) => unknown) {
  const net = new LoopbackNetwork();
  net.intercept((m) => {
    if (m.to !== "old@x") return false;
    const id = (m.payload as { id?: unknown }).id;
    net.inject({ from: "old@x", to: m.from, corrId: m.corrId, payload: reply(id) as never });
    return true;
  });
  return net.createEndpoint("client@test");
}

describe("fame ops", () => {
  it("lists what an agent serves, from the SDK's rpc.describe", async () => {
    const net = new LoopbackNetwork();
    await new Tiny().serve("tiny@x", { endpoint: net.createEndpoint("agent@test") });
    const d = await describeAt(net.createEndpoint("client@test"), "tiny@x", 2000);
    expect(d.operations).toEqual([{ name: "ping", streaming: false, idempotent: true, description: "pong" }]);
  });

  it("says an agent from before rpc.describe cannot be listed (method not found), exit 1", async () => {
    const endpoint = oldAgent((id) => ({
      jsonrpc: "2.0",
      id,
      error: { code: -32601, message: "Method not found" },
    }));
    const err = await describeAt(endpoint, "old@x", 2000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).message).toContain("old@x does not answer rpc.describe");
    expect((err as CliError).exitCode).toBe(EXIT.failure);
  });

  it("refuses a malformed describe answer with a message, not a crash", async () => {
    const endpoint = oldAgent((id) => ({ jsonrpc: "2.0", id, result: { operations: [{ name: 7 }] } }));
    const err = await describeAt(endpoint, "old@x", 2000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).message).toMatch(/old@x answered rpc\.describe with something else: .*name/);
  });
});

describe("errors and exit codes", () => {
  it("maps each kind of failure to its exit code", () => {
    expect(
      explain(new RpcError(RpcErrorCode.INVALID_PARAMS, "x must be a finite number", "invalid_params")),
    ).toEqual({
      message: "error -32602 invalid_params: x must be a finite number",
      exitCode: EXIT.failure,
    });
    expect(explain(new RpcError(RpcErrorCode.SERVER_ERROR, "no answer", FameRpcCode.TIMEOUT)).exitCode).toBe(
      EXIT.unreachable,
    );
    expect(explain(new RpcError(RpcErrorCode.SERVER_ERROR, "not an address", "bad_address")).exitCode).toBe(
      EXIT.usage,
    );
    expect(explain(new ConfigError("FAME_CA_CERTS", "cannot read x"))).toEqual({
      message: "invalid setting FAME_CA_CERTS: cannot read x",
      exitCode: EXIT.usage,
    });
    const refused = Object.assign(new Error("wss://h: connect ECONNREFUSED"), {
      name: "ConnectionError",
      code: "connect_failed",
    });
    expect(explain(refused).exitCode).toBe(EXIT.unreachable);
    // a cluster whose NATS is down: transient (exit 3), and the message says where to look
    const cutOff = Object.assign(
      new Error("attach refused: the cluster's shared state is unreachable: the attach cannot be recorded"),
      { name: "ConnectionError", code: "state_unavailable" },
    );
    expect(explain(cutOff).exitCode).toBe(EXIT.unreachable);
    expect(explain(cutOff).message).toMatch(/NATS.*try again shortly/);
    const refusedCall = explain(
      new RpcError(RpcErrorCode.SERVER_ERROR, "cannot record", "state_unavailable"),
    );
    expect(refusedCall.exitCode).toBe(EXIT.unreachable);
    expect(refusedCall.message).toMatch(/NATS/);
    // the service answered with a certificate the trust bundle does not cover: a setting to fix
    const untrusted = Object.assign(new Error("127.0.0.1:8443: unable to verify the first certificate"), {
      name: "AdmissionError",
      code: "network",
    });
    expect(explain(untrusted).exitCode).toBe(EXIT.usage);
    expect(explain(untrusted).message).toMatch(/does not chain to FAME_CA_CERTS/);
    expect(explain(untrusted).message).not.toMatch(/make start/);
    const busy = Object.assign(new Error("wss://h: Unexpected server response: 429"), {
      name: "ConnectionError",
      code: "connect_failed",
      retryAfterSec: 2,
    });
    expect(explain(busy)).toEqual({
      message:
        "sentinel: wss://h: Unexpected server response: 429 (the fabric is busy: try again in 2 s, or allow a longer FAME_START_WAIT_MS)",
      exitCode: EXIT.unreachable,
    });
    const bound = Object.assign(new Error("bind refused"), {
      name: "ConnectionError",
      code: "not_authorized",
    });
    expect(explain(bound).exitCode).toBe(EXIT.failure);
    const denied = Object.assign(new Error("token: invalid_client"), {
      name: "AdmissionError",
      code: "invalid_client",
    });
    expect(explain(denied)).toEqual({ message: "admission token: invalid_client", exitCode: EXIT.failure });
    expect(explain(new Error("boom")).exitCode).toBe(EXIT.failure);
  });

  it("a Ctrl-C while connecting ends the command with 130", async () => {
    // an admission URL that never answers keeps the command connecting until the interrupt
    const { createServer } = await import("node:net");
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as { port: number }).port;
    const checkout = fakeCheckout();
    const { run, interrupt } = fakeIo({
      FAME_CA_CERTS: join(checkout.root, "certs", "trust-bundle.pem"),
      FAME_SECURITY_PROFILE: "overlay",
      FAME_ADMISSION_PROFILE: "welcome",
      FAME_ADMISSION_TOKEN_URL: `https://127.0.0.1:${port}/oauth/token`,
      FAME_ADMISSION_SERVICE_URL: `https://127.0.0.1:${port}`,
      FAME_ADMISSION_CLIENT_ID: "c",
      FAME_ADMISSION_CLIENT_SECRET: "s",
    });
    const pending = run("call", "math@fame.fabric", "add", "{}");
    await new Promise<void>((resolve) => silent.once("connection", () => resolve()));
    interrupt();
    const r = await pending;
    expect(r.code).toBe(EXIT.interrupted);
    expect(r.err).toBe("fame: cancelled\n");
    silent.close();
    checkout.remove();
  });
});

describe("params too large for a command line", () => {
  it("reads them from standard input (-) or a file (@path); anything else is the params", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fame-params-"));
    try {
      const big = JSON.stringify({ s: "x".repeat(900_000) });
      writeFileSync(join(dir, "params.json"), big);
      const { io } = fakeIo({}, dir, '{"x":3,"y":4}');
      expect(parseParams(await paramsText(io, "-"))).toEqual({ x: 3, y: 4 });
      expect((await paramsText(io, "@params.json"))?.length).toBe(big.length);
      expect(await paramsText(io, '{"x":1}')).toBe('{"x":1}');
      expect(await paramsText(io, undefined)).toBeUndefined();
      await expect(paramsText(io, "@missing.json")).rejects.toThrow(/params from missing.json: ENOENT/);
      await expect(paramsText(io, "@")).rejects.toThrow(/@ needs a file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
