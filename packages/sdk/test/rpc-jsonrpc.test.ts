import { describe, expect, it } from "vitest";
import {
  encodeError,
  encodeRequest,
  encodeResult,
  encodeStreamCancel,
  encodeStreamCredit,
  encodeStreamEnd,
  encodeStreamItem,
  MAX_STREAM_WINDOW,
  parseRpcMessage,
  type RpcParseResult,
} from "../src/rpc/jsonrpc.js";
import { RpcErrorCode } from "../src/rpc/rpc-error.js";

function rejected(r: RpcParseResult): Extract<RpcParseResult, { ok: false }> {
  if (r.ok) throw new Error(`expected rejection, got ${JSON.stringify(r.message)}`);
  return r;
}

describe("JSON-RPC codec", () => {
  it("round-trips every message kind", () => {
    expect(parseRpcMessage(encodeRequest("c1", "add", { x: 1 }, 32))).toEqual({
      ok: true,
      message: { kind: "request", id: "c1", method: "add", params: { x: 1 }, streamWindow: 32 },
    });
    expect(parseRpcMessage(encodeRequest(7, "ping", undefined, undefined))).toEqual({
      ok: true,
      message: { kind: "request", id: 7, method: "ping", params: undefined, streamWindow: undefined },
    });
    expect(parseRpcMessage(encodeResult("c1", null))).toEqual({
      ok: true,
      message: { kind: "result", id: "c1", result: null },
    });
    expect(parseRpcMessage(encodeError("c1", -32000, "late", "timeout"))).toEqual({
      ok: true,
      message: {
        kind: "error",
        id: "c1",
        error: { code: -32000, message: "late", data: { fame_code: "timeout" } },
      },
    });
    expect(parseRpcMessage(encodeError(null, -32600, "bad"))).toMatchObject({
      ok: true,
      message: { id: null },
    });
    expect(parseRpcMessage(encodeStreamItem("c1", 3, [1, 2]))).toEqual({
      ok: true,
      message: { kind: "item", id: "c1", seq: 3, result: [1, 2] },
    });
    expect(parseRpcMessage(encodeStreamEnd("c1", 4))).toEqual({
      ok: true,
      message: { kind: "end", id: "c1", seq: 4 },
    });
    expect(parseRpcMessage(encodeStreamCredit("c1", 16))).toEqual({
      ok: true,
      message: { kind: "credit", id: "c1", n: 16 },
    });
    expect(parseRpcMessage(encodeStreamCancel("c1"))).toEqual({
      ok: true,
      message: { kind: "cancel", id: "c1" },
    });
  });

  it("answers malformed requests with Invalid Request, echoing a valid id", () => {
    const base = { jsonrpc: "2.0", id: "c1", method: "add" };
    for (const bad of [
      { ...base, method: "m".repeat(129) },
      { ...base, method: "" },
      { ...base, method: 5 },
      { ...base, jsonrpc: "1.0" },
      { ...base, extra: true },
      { ...base, stream_window: 0 },
      { ...base, stream_window: MAX_STREAM_WINDOW + 1 },
      { ...base, stream_window: 1.5 },
    ]) {
      const r = rejected(parseRpcMessage(bad));
      expect(r).toMatchObject({ answer: true, error: { code: RpcErrorCode.INVALID_REQUEST } });
      if (typeof bad.method === "string" && bad.jsonrpc === "2.0") expect(r.id).toBe("c1");
    }
    for (const badId of ["x".repeat(129), "", 1.5, null, { a: 1 }, true]) {
      expect(rejected(parseRpcMessage({ ...base, id: badId }))).toMatchObject({ answer: true, id: null });
    }
  });

  it("rejects non-object params with Invalid Params", () => {
    for (const params of [[1, 2], 3, "x", null, true]) {
      expect(rejected(parseRpcMessage({ jsonrpc: "2.0", id: 1, method: "add", params }))).toMatchObject({
        answer: true,
        id: 1,
        error: { code: RpcErrorCode.INVALID_PARAMS },
      });
    }
  });

  it("answers non-objects with a null id but never answers malformed replies", () => {
    for (const junk of [null, 1, "x", [], [encodeRequest("a", "b", undefined, undefined)], { foo: 1 }]) {
      expect(rejected(parseRpcMessage(junk))).toMatchObject({ answer: true });
    }
    const replies: unknown[] = [
      { jsonrpc: "2.0", id: "c", result: 1, extra: 2 },
      { jsonrpc: "2.0", id: "c", result: Number.NaN },
      { jsonrpc: "2.0", id: "c", error: { code: 1.5, message: "x" } },
      { jsonrpc: "2.0", id: "c", error: { code: 1, message: "x".repeat(9000) } },
      { jsonrpc: "2.0", id: "c", error: { code: 1, message: "x", data: { fame_code: 7 } } },
      { jsonrpc: "2.0", id: "c", error: { code: 1, message: "x", data: [] } },
      { jsonrpc: "2.0", id: "c", stream: "item", seq: -1, result: 1 },
      { jsonrpc: "2.0", id: "c", stream: "item", seq: 0 },
      { jsonrpc: "2.0", id: "c", stream: "credit", n: 0 },
      { jsonrpc: "2.0", id: "c", stream: "credit", n: MAX_STREAM_WINDOW + 1 },
      { jsonrpc: "2.0", id: "c", stream: "bogus" },
      { jsonrpc: "2.0", id: "c", stream: "__proto__" },
      { jsonrpc: "2.0", stream: "end", seq: 0 },
      { jsonrpc: "1.0", id: "c", result: 1 },
    ];
    for (const reply of replies) expect(rejected(parseRpcMessage(reply)).answer).toBe(false);
  });

  it("accepts only plain-object, finite JSON in results", () => {
    expect(parseRpcMessage({ jsonrpc: "2.0", id: "c", result: { a: [1, { b: null }] } }).ok).toBe(true);
    expect(parseRpcMessage({ jsonrpc: "2.0", id: "c", result: new Date() }).ok).toBe(false);
    expect(parseRpcMessage({ jsonrpc: "2.0", id: "c", result: Number.POSITIVE_INFINITY }).ok).toBe(false);
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(parseRpcMessage({ jsonrpc: "2.0", id: "c", result: deep }).ok).toBe(false);
  });

  it("truncates oversize outgoing error messages", () => {
    const msg = encodeError("c", -32603, "x".repeat(10_000));
    expect(parseRpcMessage(msg).ok).toBe(true);
  });
});
