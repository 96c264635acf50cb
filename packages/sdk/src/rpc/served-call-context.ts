/**
 * The `CallContext` a served operation gets, and its lazily made abort signal: both built for
 * every call, so they hold references and make objects only when the operation reads them.
 */
import type { CallContext, CallerIdentity } from "./call-context.js";

const NO_META: Readonly<Record<string, string>> = Object.freeze({});

/**
 * What an operation sees of its call: read-only (accessors without setters, so an assignment
 * throws in strict code), built for every call served, so nothing is copied or frozen until
 * it is read: freezing per call costs a replica measurably, and most operations never look
 * at their meta.
 */
export class ServedCallContext implements CallContext {
  readonly #corrId: string;
  readonly #from: string;
  readonly #sender: string;
  #caller: CallerIdentity | undefined;
  readonly #address: string;
  readonly #source: Record<string, string> | undefined;
  #meta: Readonly<Record<string, string>> | undefined;
  readonly #abort: LazyAbort;

  constructor(
    corrId: string,
    from: string,
    sender: string,
    caller: CallerIdentity | undefined,
    address: string,
    meta: Record<string, string> | undefined,
    abort: LazyAbort,
  ) {
    this.#corrId = corrId;
    this.#from = from;
    this.#sender = sender;
    this.#caller = caller;
    this.#address = address;
    this.#source = meta;
    this.#abort = abort;
  }

  get corrId(): string {
    return this.#corrId;
  }

  get from(): string {
    return this.#from;
  }

  /** the connection layer's shared identity object, or (made on first read) one naming the sid */
  get caller(): CallerIdentity {
    this.#caller ??= Object.freeze({ sid: this.#sender });
    return this.#caller;
  }

  get address(): string {
    return this.#address;
  }

  /** a frozen copy, made on first read: later changes to the connection's object do not show */
  get meta(): Readonly<Record<string, string>> {
    this.#meta ??= this.#source === undefined ? NO_META : Object.freeze({ ...this.#source });
    return this.#meta;
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }
}

/**
 * A call's abort signal, made only when the operation reads it: an AbortController per
 * call is the largest single cost of serving small calls, and most operations never look.
 */
export class LazyAbort {
  #controller: AbortController | undefined;
  #aborted = false;

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort();
    }
    return this.#controller.signal;
  }

  abort(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#controller?.abort();
  }
}
