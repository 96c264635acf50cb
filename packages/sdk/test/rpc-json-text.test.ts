import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BaseAgent } from "../src/agent/base-agent.js";
import { defineOperation } from "../src/agent/operation.js";
import { RpcEndpoint } from "../src/rpc/endpoint.js";
import { encodeRequest, encodeResult, requestText, resultText } from "../src/rpc/jsonrpc.js";
import type { JsonValue, SendOptions } from "../src/rpc/transport.js";

const json = fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<JsonValue>;
const params = fc.dictionary(fc.string({ maxLength: 8 }), json, { maxKeys: 4 });
const id = fc.oneof(fc.string({ maxLength: 40 }), fc.integer());

describe("JSON-RPC text made from its parts", () => {
  it("equals JSON.stringify of the message object, whatever the id, method and params", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 30 }),
        fc.string({ minLength: 1, maxLength: 20 }),
        fc.option(params, { nil: undefined }),
        fc.option(fc.integer({ min: 1, max: 1024 }), { nil: undefined }),
        (corrId, method, p, window) => {
          const text = requestText(corrId, method, p === undefined ? undefined : JSON.stringify(p), window);
          expect(text).toBe(JSON.stringify(encodeRequest(corrId, method, p, window)));
        },
      ),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(id, json, (i, r) => {
        expect(resultText(i, JSON.stringify(r))).toBe(JSON.stringify(encodeResult(i, r)));
      }),
      { numRuns: 300 },
    );
  });
});

class Adder extends BaseAgent {
  async add({ x, y }: { x: number; y: number }): Promise<number> {
    return x + y;
  }
}
defineOperation(Adder, "add");

/** an outbound that answers every request itself and keeps what it was handed */
function recordingPair(prefersJsonText: boolean) {
  const sent: { payload: JsonValue; m: SendOptions }[] = [];
  let server: RpcEndpoint | undefined;
  const client = new RpcEndpoint({
    replyAddress: "me@node",
    prefersJsonText,
    send: (_to, payload, m) => {
      sent.push({ payload, m });
      queueMicrotask(() =>
        server?.handleIncoming(payload, {
          corrId: m.corrId,
          from: "me@node",
        }),
      );
      return undefined;
    },
  });
  server = new RpcEndpoint({
    replyAddress: "svc@node",
    prefersJsonText,
    send: (_to, payload, m) => {
      sent.push({ payload, m });
      queueMicrotask(() => client.handleIncoming(payload, { corrId: m.corrId }));
      return undefined;
    },
  });
  return { client, sent, ready: server.serveAgent("math@fame.fabric", new Adder()) };
}

describe("a request's and a result's text travel with them", () => {
  it("to a transport that prefers text: exactly the payload's JSON, made once per call", async () => {
    const { client, sent, ready } = recordingPair(true);
    await ready;
    expect(await client.client.call("math@fame.fabric", "add", { x: 2, y: 3 })).toBe(5);
    const [request, reply] = sent;
    expect(request?.m.json).toBe(JSON.stringify(request?.payload));
    expect(reply?.m.json).toBe(JSON.stringify(reply?.payload));
    expect(JSON.parse(reply!.m.json!)).toMatchObject({ result: 5 });
  });

  it("not to one that does not", async () => {
    const { client, sent, ready } = recordingPair(false);
    await ready;
    expect(await client.client.call("math@fame.fabric", "add", { x: 1, y: 1 })).toBe(2);
    expect(sent.map((s) => s.m.json)).toEqual([undefined, undefined]);
  });
});
