/**
 * Callee side of the RPC layer: routes validated requests to served agents, runs operations
 * under the per-agent in-flight limit, and turns every outcome — result, stream, thrown
 * error, timeout — into a JSON-RPC reply. Nothing thrown by user code escapes.
 */
import type { Logger } from "@fame/logger";
import { addressHasName, CHANNEL_META_KEY, jsonText } from "@fame/protocol";
import { codesOf, errorPayload, logCallFailure } from "./call-failure.js";
import { type CallHooks, type CallOutcome, checkHooks } from "./call-hooks.js";
import { callerLimit } from "./caller-slots.js";
import { DESCRIBE_METHOD, describeOperations } from "./describe.js";
import { type RpcDiagnosticSink, reportDiagnostic } from "./diagnostic.js";
import { type AgentDispatcher, dispatcherFor, type SlotHolder, type SlotLimits } from "./dispatcher.js";
import { toJsonValue } from "./json-value.js";
import {
  encodeError,
  encodeResult,
  type RpcErrorObject,
  type RpcId,
  type RpcRequestMessage,
  type RpcStreamCancelMessage,
  type RpcStreamCreditMessage,
  resultText,
} from "./jsonrpc.js";
import type { OperationSpec } from "./operation-registry.js";
import { paramsOutput } from "./params-schema.js";
import { FameRpcCode, RpcError, RpcErrorCode } from "./rpc-error.js";
import type { ServeTelemetry } from "./serve-telemetry.js";
import { LazyAbort, ServedCallContext } from "./served-call-context.js";
import { StreamSender } from "./stream-sender.js";
import {
  type JsonObject,
  type RpcMessageMeta,
  type RpcOutbound,
  type SendOptions,
  sendVia,
} from "./transport.js";

export const DEFAULT_STREAM_CREDIT_TIMEOUT_MS = 60_000;
/** No caller may hold more than this share of an agent's call slots (FAME_RPC_CALLER_SHARE_PCT). */
export const DEFAULT_CALLER_SHARE = 0.5;
/**
 * Nor may all the processes admitted with one credential together
 * (FAME_RPC_PRINCIPAL_SHARE_PCT; callers whose certificate names a principal).
 */
export const DEFAULT_PRINCIPAL_SHARE = 0.75;
const OK: CallOutcome = Object.freeze({ ok: true });

export interface RpcServerOptions {
  /** How long a stream waits for the caller's credit before giving up (default 60 s). */
  streamCreditTimeoutMs?: number;
  /**
   * The share (0 < share ≤ 1) of an agent's call slots one caller may hold, so a caller that
   * opens streams and never reads them cannot take every slot; default 0.5.
   */
  callerShare?: number;
  /**
   * The share (0 < share ≤ 1) all callers of one principal (the OAuth2 client their
   * certificates name) may hold together, so a credential holder gains nothing by starting
   * more processes; default 0.75 (above callerShare, so one process of a principal leaves
   * the others of its principal room).
   */
  principalShare?: number;
  onDiagnostic?: RpcDiagnosticSink;
  /** Where failed calls are logged (connectFabric passes the node's logger); none: not logged. */
  log?: Logger;
  /** serve spans and the serve-time histogram (connectFabric, when tracing or metrics are on) */
  telemetry?: ServeTelemetry | undefined;
}

/** Per-address serving options (`agent.serve(address, options)`). */
export interface ServeAgentOptions {
  hooks?: CallHooks;
}

export interface ServeHandle {
  readonly address: string;
  /** Stop accepting requests at this address; calls already running finish. */
  stop(): Promise<void>;
}

interface ActiveStream {
  sender: StreamSender;
  address: string;
}

/** What a served call is keyed by: its verified sender (see RpcMessageMeta.sender). */
function senderOf(m: RpcMessageMeta, replyTo: string): string {
  return m.sender ?? replyTo;
}

export class RpcServer {
  readonly #outbound: RpcOutbound;
  readonly #agents = new Map<string, AgentDispatcher>();
  /**
   * Streams being produced, keyed by the caller's verified sid + correlation id: a credit or
   * cancel counts only from the sender that opened the stream.
   */
  readonly #streams = new Map<string, ActiveStream>();
  /** Aborts for every running call, so close() can signal them all. */
  readonly #running = new Set<LazyAbort>();
  /**
   * Running calls by the caller's verified sid + correlation id, so that the caller's cancel
   * aborts its own call (ctx.signal): a caller that gives up must not leave the operation
   * running in a slot (audit round 12). Streams are cancelled through #streams.
   */
  readonly #cancellable = new Map<string, LazyAbort>();
  readonly #creditTimeoutMs: number;
  readonly #callerShare: number;
  readonly #principalShare: number;
  readonly #diag: RpcDiagnosticSink | undefined;
  readonly #log: Logger | undefined;
  readonly #telemetry: ServeTelemetry | undefined;
  /** hooks by served address; most agents have none, and then calls never look here */
  readonly #hooks = new Map<string, CallHooks>();

  constructor(outbound: RpcOutbound, options: RpcServerOptions = {}) {
    this.#outbound = outbound;
    const t = options.streamCreditTimeoutMs ?? DEFAULT_STREAM_CREDIT_TIMEOUT_MS;
    if (!Number.isFinite(t) || t <= 0 || t > 2_147_483_647)
      throw new RangeError("streamCreditTimeoutMs out of range");
    this.#creditTimeoutMs = t;
    this.#callerShare = shareOption(options.callerShare ?? DEFAULT_CALLER_SHARE, "callerShare");
    this.#principalShare = shareOption(options.principalShare ?? DEFAULT_PRINCIPAL_SHARE, "principalShare");
    this.#diag = options.onDiagnostic;
    this.#log = options.log;
    this.#telemetry = options.telemetry;
  }

  get servedAddresses(): string[] {
    return [...this.#agents.keys()];
  }

  /** Operations running or streaming right now (a draining node waits for 0). */
  get activeCalls(): number {
    return this.#running.size;
  }

  async serve(address: string, agent: object, options: ServeAgentOptions = {}): Promise<ServeHandle> {
    if (typeof address !== "string" || address.length === 0 || address.length > 1024) {
      throw new TypeError("address must be a non-empty string of at most 1024 chars");
    }
    if (typeof agent !== "object" || agent === null) throw new TypeError("agent must be an object");
    if (this.#agents.has(address)) throw new Error(`address ${address} is already served by this endpoint`);
    const hooks = checkHooks(options.hooks);
    const dispatcher = dispatcherFor(agent);
    // Registered before binding so no request can arrive for an address we do not know yet.
    this.#agents.set(address, dispatcher);
    if (hooks !== undefined) this.#hooks.set(address, hooks);
    try {
      await this.#outbound.bind?.(address);
    } catch (err) {
      if (this.#agents.get(address) === dispatcher) {
        this.#agents.delete(address);
        this.#hooks.delete(address);
      }
      throw err;
    }
    let stopped = false;
    return {
      address,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        if (this.#agents.get(address) === dispatcher) {
          this.#agents.delete(address);
          this.#hooks.delete(address);
        }
        await this.#outbound.unbind?.(address);
      },
    };
  }

  handleRequest(req: RpcRequestMessage, m: RpcMessageMeta): void {
    const replyTo = m.from;
    if (replyTo === undefined) {
      // Without a reply address the caller could never learn the outcome; running the
      // operation anyway would be a side effect nobody asked to observe.
      reportDiagnostic(this.#diag, "request_without_reply_address", m.corrId, req.method);
      return;
    }
    const target = this.#target(m.to);
    if (target === undefined) {
      void this.#reply(
        m,
        encodeError(
          req.id,
          RpcErrorCode.METHOD_NOT_FOUND,
          `no agent served at ${m.to ?? "this node"}`,
          FameRpcCode.NO_ROUTE,
        ),
      );
      return;
    }
    const [address, dispatcher] = target;
    const sender = senderOf(m, replyTo);
    const streamKey = keyOf(sender, m.corrId);
    if (this.#streams.has(streamKey)) {
      // Answering would end the caller's existing stream; a duplicate is safest ignored.
      reportDiagnostic(this.#diag, "duplicate_request", m.corrId, req.method);
      return;
    }
    const spec = dispatcher.lookup(req.method);
    if (spec === undefined) {
      if (req.method === DESCRIBE_METHOD) {
        void this.#reply(m, encodeResult(req.id, dispatcher.description(describeOperations)));
        return;
      }
      void this.#reply(
        m,
        encodeError(
          req.id,
          RpcErrorCode.METHOD_NOT_FOUND,
          `method not found: ${req.method}`,
          FameRpcCode.METHOD_NOT_FOUND,
        ),
      );
      return;
    }
    const limits = {
      perCaller: callerLimit(dispatcher.maxInflight, this.#callerShare),
      perPrincipal: callerLimit(dispatcher.maxInflight, this.#principalShare),
    };
    const holder: SlotHolder = { sid: sender, principal: m.caller?.principal };
    const full = dispatcher.tryAcquire(holder, limits, m.fromSentinel === true);
    if (full !== undefined) {
      void this.#reply(
        m,
        encodeError(
          req.id,
          RpcErrorCode.SERVER_ERROR,
          fullMessage(full, address, dispatcher, limits),
          FameRpcCode.TOO_MANY_INFLIGHT,
        ),
      );
      if (full !== "agent")
        reportDiagnostic(
          this.#diag,
          full === "caller" ? "caller_share_exceeded" : "principal_share_exceeded",
          m.corrId,
          address,
        );
      return;
    }
    void this.#run(req, m, replyTo, holder, address, dispatcher, spec);
  }

  /**
   * A credit or cancel for a stream. Looked up by the verified sender, so one naming another
   * caller's corrId (and reply address) finds nothing. Dropped without an answer either way:
   * both are JSON-RPC notifications with no reply path, a late one after the stream ended is
   * normal, and an answer would tell a stranger which corrIds are live.
   */
  /**
   * true when `msg` controls a stream this server runs for its sender, or cancels a call it
   * runs for its sender (its ctx.signal is aborted; the call's answer follows as ever)
   */
  handleControl(msg: RpcStreamCreditMessage | RpcStreamCancelMessage, m: RpcMessageMeta): boolean {
    if (m.from === undefined) return false;
    const sender = senderOf(m, m.from);
    if (msg.kind === "cancel") return this.cancelFor(sender, m.corrId);
    const active = this.#streams.get(keyOf(sender, m.corrId));
    if (active === undefined) return false; // over (or not the sender's): nothing to touch
    active.sender.credit(msg.n);
    return true;
  }

  /**
   * Cancels `sender`'s call `corrId`, a stream or a running operation: its cancel, or its
   * sentinel saying its connection ended. False when none of its runs here.
   */
  cancelFor(sender: string, corrId: string): boolean {
    const key = keyOf(sender, corrId);
    const active = this.#streams.get(key);
    if (active !== undefined) {
      active.sender.cancel();
      return true;
    }
    const running = this.#cancellable.get(key);
    running?.abort();
    return running !== undefined;
  }

  /** Answer a payload that failed validation but asked for an answer (a malformed request). */
  answerInvalid(id: RpcId | null, error: RpcErrorObject, m: RpcMessageMeta): void {
    if (m.from === undefined) return;
    const fame =
      error.code === RpcErrorCode.INVALID_PARAMS ? FameRpcCode.INVALID_PARAMS : FameRpcCode.BAD_MESSAGE;
    this.#reply(m, encodeError(id, error.code, error.message, fame));
  }

  /** Stop serving: cancel streams and signal running calls. Addresses are not unbound. */
  close(): void {
    for (const s of this.#streams.values()) s.sender.cancel();
    for (const c of this.#running) c.abort();
    this.#agents.clear();
    this.#hooks.clear();
  }

  async #run(
    req: RpcRequestMessage,
    m: RpcMessageMeta,
    replyTo: string,
    holder: SlotHolder,
    address: string,
    dispatcher: AgentDispatcher,
    spec: OperationSpec,
  ): Promise<void> {
    const sender = holder.sid;
    const abort = new LazyAbort();
    this.#running.add(abort);
    const key = keyOf(sender, m.corrId);
    this.#cancellable.set(key, abort);
    // Set when the slot's release is handed to someone else (a stream, or an operation
    // that outlived its timeout and still holds the agent busy).
    let handedOff = false;
    const release = (): void => {
      this.#running.delete(abort);
      if (this.#cancellable.get(key) === abort) this.#cancellable.delete(key);
      dispatcher.release(holder, m.fromSentinel === true);
    };
    const context = new ServedCallContext(m.corrId, replyTo, sender, m.caller, address, m.meta, abort);
    // undefined unless tracing or metrics are on: then one field check per call
    const served = this.#telemetry?.begin(spec.name, req, m, address);
    const hooks = this.#hooks.size === 0 ? undefined : this.#hooks.get(address);
    const started = hooks?.after === undefined ? 0 : performance.now();
    let ended: CallOutcome = OK;
    try {
      let params: unknown = req.params ?? {};
      if (spec.params !== undefined) {
        const checked = spec.params["~standard"].validate(params);
        params = paramsOutput(checked instanceof Promise ? await checked : checked);
      }
      if (hooks?.before !== undefined) {
        const before = hooks.before(context, spec);
        if (isThenable(before)) await before;
      }
      let value = dispatcher.invoke(spec, params, context);
      if (isThenable(value)) {
        const pending = Promise.resolve(value);
        if (spec.timeoutMs === undefined) {
          value = await pending;
        } else {
          const outcome = await raceTimeout(pending, spec.timeoutMs);
          if (outcome.timedOut) {
            abort.abort();
            handedOff = true;
            pending.then(release, release);
            const msg = `operation ${spec.name} exceeded its ${spec.timeoutMs} ms timeout`;
            ended = this.#failed(
              spec,
              context,
              new RpcError(RpcErrorCode.SERVER_ERROR, msg, FameRpcCode.TIMEOUT),
            );
            await this.#reply(m, encodeError(req.id, RpcErrorCode.SERVER_ERROR, msg, FameRpcCode.TIMEOUT));
            return;
          }
          value = outcome.value;
        }
      }
      if (isAsyncIterable(value)) {
        handedOff = true;
        ended = await this.#stream(req, m, sender, spec, context, value, abort, release);
        return;
      }
      if (spec.streaming) {
        throw new RpcError(
          RpcErrorCode.INTERNAL_ERROR,
          `streaming operation ${spec.name} did not return an async iterable`,
        );
      }
      const json = toJsonValue(value);
      if (!json.ok) {
        throw new RpcError(
          RpcErrorCode.INTERNAL_ERROR,
          `result of ${spec.name} is not JSON-serializable: ${json.reason}`,
        );
      }
      let sent = this.#reply(
        m,
        encodeResult(req.id, json.value),
        this.#outbound.prefersJsonText ? resultText(req.id, jsonText(json.value)) : undefined,
      );
      if (typeof sent !== "boolean") sent = await sent;
      if (!sent) {
        // Most likely the result exceeds the frame limit; the caller should not wait for a timeout.
        await this.#reply(m, encodeError(req.id, RpcErrorCode.INTERNAL_ERROR, "result could not be sent"));
      }
    } catch (err) {
      ended = this.#failed(spec, context, err);
      await this.#reply(m, errorPayload(req.id, err, spec.name));
    } finally {
      if (!handedOff) release();
      if (hooks?.after !== undefined) this.#after(hooks.after, context, spec, ended, started);
      if (served !== undefined) served.end(ended.ok ? undefined : (ended.fameCode ?? String(ended.code)));
    }
  }

  /** Logs a failed call (when the server has a log) and says how it ended, for the after hook. */
  #failed(spec: OperationSpec, context: ServedCallContext, err: unknown): CallOutcome {
    if (this.#log !== undefined) logCallFailure(this.#log, spec.name, context, err);
    const { code, fameCode } = codesOf(err);
    return { ok: false, code, fameCode, error: err };
  }

  #after(
    after: NonNullable<CallHooks["after"]>,
    context: ServedCallContext,
    spec: OperationSpec,
    outcome: CallOutcome,
    started: number,
  ): void {
    try {
      after(context, spec, outcome, performance.now() - started);
    } catch (err) {
      this.#log?.warn(
        { op: spec.name, error: err instanceof Error ? err.message : String(err) },
        "after hook threw",
      );
    }
  }

  async #stream(
    req: RpcRequestMessage,
    m: RpcMessageMeta,
    sender: string,
    spec: OperationSpec,
    context: ServedCallContext,
    iterable: AsyncIterable<unknown>,
    abort: LazyAbort,
    release: () => void,
  ): Promise<CallOutcome> {
    let outcome: CallOutcome = OK;
    let iterator: AsyncIterator<unknown> | undefined;
    try {
      iterator = iterable[Symbol.asyncIterator]();
      if (req.streamWindow === undefined) {
        await iterator.return?.();
        await this.#reply(
          m,
          encodeError(
            req.id,
            RpcErrorCode.INVALID_REQUEST,
            "operation answers with a stream but the request has no stream_window",
          ),
        );
        return { ok: false, code: RpcErrorCode.INVALID_REQUEST, fameCode: undefined, error: undefined };
      }
      const streamSender = new StreamSender({
        id: req.id,
        window: req.streamWindow,
        iterator,
        send: (payload) => this.#reply(m, payload),
        errorPayload: (err) => {
          outcome = this.#failed(spec, context, err);
          return errorPayload(req.id, err, spec.name);
        },
        creditTimeoutMs: this.#creditTimeoutMs,
        abort,
      });
      const key = keyOf(sender, m.corrId);
      this.#streams.set(key, { sender: streamSender, address: context.address });
      try {
        await streamSender.run();
      } finally {
        this.#streams.delete(key);
      }
    } catch (err) {
      // Only reachable if obtaining or closing the iterator threw.
      outcome = this.#failed(spec, context, err);
      await this.#reply(m, errorPayload(req.id, err, spec.name));
    } finally {
      release();
    }
    return outcome;
  }

  /**
   * The agent a request is for: the one served at `to`, or, for the replica form of an
   * address (`name@/path`, this node's physical address), the one served as `name@…`. Only by
   * that name: the sentinel holds a request to `name@/path` to the access policy of the
   * addresses served under `name`, so an agent must not answer under any other name (a
   * standby's or a forbidden agent would be reachable as `x@/path`). Without a destination
   * (an in-process transport) a lone agent is the target.
   */
  #target(to: string | undefined): [string, AgentDispatcher] | undefined {
    if (to === undefined) {
      if (this.#agents.size !== 1) return undefined;
      const [entry] = this.#agents;
      return entry;
    }
    const d = this.#agents.get(to);
    if (d !== undefined) return [to, d];
    const name = to.slice(0, Math.max(0, to.indexOf("@")));
    for (const entry of this.#agents) if (addressHasName(entry[0], name)) return entry;
    return undefined;
  }

  /**
   * Send to the caller; never throws or rejects. True once the payload is handed over (at
   * once, or when the returned promise settles), false when the transport refused it.
   */
  /** `json`: the payload's text, made already (SendOptions.json) */
  /**
   * Sends an answer (a result, an error, a stream item) to the caller of `m`. One to a request
   * that came on a secure channel names that channel: it leaves on it or not at all, never in
   * clear (audit round 12: a transport that lost track of the conversation sent it in clear).
   */
  #reply(m: RpcMessageMeta, payload: JsonObject, json?: string): boolean | Promise<boolean> {
    const corrId = m.corrId;
    const channel = m.meta?.[CHANNEL_META_KEY];
    const options: SendOptions = json === undefined ? { corrId } : { corrId, json };
    if (channel !== undefined) options.channel = channel;
    let failed = false;
    const pending = sendVia(this.#outbound, m.from!, payload, options, (err: unknown) => {
      failed = true;
      reportDiagnostic(
        this.#diag,
        "reply_send_failed",
        corrId,
        err instanceof Error ? err.message : "send rejected",
      );
    });
    return pending === undefined ? !failed : pending.then(() => !failed);
  }
}

function shareOption(share: number, name: string): number {
  if (!Number.isFinite(share) || share <= 0 || share > 1) throw new RangeError(`${name} must be in (0, 1]`);
  return share;
}

function fullMessage(
  full: "agent" | "caller" | "principal",
  address: string,
  dispatcher: AgentDispatcher,
  limits: SlotLimits,
): string {
  if (full === "agent") return `agent at ${address} has ${dispatcher.maxInflight} calls in flight`;
  if (full === "caller")
    return `caller has ${limits.perCaller} calls in flight at ${address} (the per-caller limit)`;
  return `callers of this principal have ${limits.perPrincipal} calls in flight at ${address} (the per-principal limit)`;
}

function keyOf(sender: string, corrId: string): string {
  return `${sender}\u0000${corrId}`;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function"
  );
}

function raceTimeout<T>(
  promise: Promise<T>,
  ms: number,
): Promise<{ timedOut: true } | { timedOut: false; value: T }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve({ timedOut: true }), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve({ timedOut: false, value });
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
