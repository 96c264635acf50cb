/**
 * One node's RPC endpoint: the object the connection layer feeds incoming payloads to and
 * reports delivery failures to. It owns a caller (`client`) and a callee (served agents).
 */
import { type RpcDiagnosticSink, reportDiagnostic } from "./diagnostic.js";
import { isPlainObject } from "./json-value.js";
import { MAX_ID_LENGTH, parseRpcMessage } from "./jsonrpc.js";
import { RpcClient, type RpcClientOptions } from "./rpc-client.js";
import { RpcServer, type RpcServerOptions, type ServeAgentOptions, type ServeHandle } from "./rpc-server.js";
import type { FailCallOptions, RpcInbound, RpcMessageMeta, RpcOutbound } from "./transport.js";

export interface RpcEndpointOptions extends RpcClientOptions, RpcServerOptions {
  onDiagnostic?: RpcDiagnosticSink;
}

const MAX_ADDRESS_LENGTH = 1024;
const MAX_META_ENTRIES = 64;

export class RpcEndpoint implements RpcInbound {
  readonly client: RpcClient;
  readonly #server: RpcServer;
  readonly #outbound: RpcOutbound;
  readonly #diag: RpcDiagnosticSink | undefined;
  #closed = false;

  constructor(outbound: RpcOutbound, options: RpcEndpointOptions = {}) {
    this.#outbound = outbound;
    this.#diag = options.onDiagnostic;
    this.client = new RpcClient(outbound, options);
    this.#server = new RpcServer(outbound, options);
  }

  /** Where replies to this endpoint's calls arrive. */
  get replyAddress(): string {
    return this.#outbound.replyAddress;
  }

  get servedAddresses(): string[] {
    return this.#server.servedAddresses;
  }

  /** Served operations running or streaming right now. */
  get activeCalls(): number {
    return this.#server.activeCalls;
  }

  /**
   * Dispatch one incoming Data payload: requests and stream control go to served agents,
   * replies to pending calls. Never throws, whatever the payload.
   * Returns true when the served side took it: a request (answered, run or a duplicate of one
   * running), or control of a stream it runs. False for anything else (a reply, control of no
   * stream, a payload no answer is due for): the transport then tells a caller who sent it to
   * a served address that nothing here will answer it (FabricNode), since the sentinel waits
   * for an answer to every such message and counts a replica that gives none as stalled.
   */
  handleIncoming(payload: unknown, m: RpcMessageMeta): boolean {
    try {
      if (this.#closed) return false;
      if (!isValidMeta(m)) {
        reportDiagnostic(this.#diag, "bad_message_meta");
        return false;
      }
      const parsed = parseRpcMessage(payload);
      if (!parsed.ok) {
        reportDiagnostic(this.#diag, "bad_payload", m.corrId, parsed.error.message);
        if (parsed.answer) {
          this.#server.answerInvalid(parsed.id, parsed.error, m);
          return m.from !== undefined;
        }
        this.client.rejectMalformedReply(m.corrId, parsed.error);
        return false;
      }
      const msg = parsed.message;
      switch (msg.kind) {
        case "request":
          this.#server.handleRequest(msg, m);
          return true;
        case "credit":
        case "cancel":
          return this.#server.handleControl(msg, m);
        default:
          this.client.handleReply(msg, m);
          return false;
      }
    } catch (err) {
      // Defensive: a bug here must cost one message, not the connection.
      reportDiagnostic(
        this.#diag,
        "internal_error",
        undefined,
        err instanceof Error ? err.message : "unknown",
      );
      return false;
    }
  }

  /** The caller `sender` left: its call `corrId` running here is cancelled (ctx.signal aborts). */
  cancelServed(sender: string, corrId: string): boolean {
    return this.#server.cancelFor(sender, corrId);
  }

  /**
   * The transport could not deliver the message for `corrId` (negative DeliveryAck, channel
   * lost…). `notExecuted` asserts the request cannot have reached user code, which makes
   * codes like `replica_unavailable` safe to retry. Returns false if no call was waiting.
   */
  failCall(corrId: string, code: string, reason: string, options: FailCallOptions = {}): boolean {
    return this.client.failCall(corrId, code, reason, options);
  }

  /** Fail every pending call at once (connection lost). Returns how many were failed. */
  failAll(code: string, reason: string, options: { notExecuted?: boolean } = {}): number {
    return this.client.failAll(code, reason, options);
  }

  /**
   * Serve `agent` (an object whose class registered operations, e.g. a BaseAgent) at `address`
   * (binds it through the outbound when supported).
   */
  serveAgent(address: string, agent: object, options?: ServeAgentOptions): Promise<ServeHandle> {
    if (this.#closed) return Promise.reject(new Error("rpc endpoint is closed"));
    return this.#server.serve(address, agent, options);
  }

  /** Reject pending calls, cancel streams and ignore further input. */
  close(reason = "rpc endpoint closed"): void {
    if (this.#closed) return;
    this.#closed = true;
    this.client.close(reason);
    this.#server.close();
  }
}

function isValidMeta(m: unknown): m is RpcMessageMeta {
  if (!isPlainObject(m)) return false;
  const { corrId, from, to, meta, sender } = m;
  if (typeof corrId !== "string" || corrId.length === 0 || corrId.length > MAX_ID_LENGTH) return false;
  if (from !== undefined && !isAddress(from)) return false;
  if (sender !== undefined && !isAddress(sender)) return false;
  if (to !== undefined && !isAddress(to)) return false;
  if (meta === undefined) return true;
  if (!isPlainObject(meta)) return false;
  const keys = Object.keys(meta);
  if (keys.length > MAX_META_ENTRIES) return false;
  return keys.every((k) => typeof meta[k] === "string");
}

function isAddress(value: unknown): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= MAX_ADDRESS_LENGTH;
}
