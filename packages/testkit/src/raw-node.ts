import { type Admission, admissionOptionsFromEnv, admitNode } from "@fame/identity";
import WebSocket from "ws";

export interface RawNodeOptions<M> {
  /** wss:// attach URL of the sentinel */
  url: string;
  /** PEM trust bundle the sentinel's TLS certificate chains to */
  ca?: string;
  /** turns a received text frame into a message; a throw counts it in `undecodable` */
  decode?: (text: string) => M;
  /** largest frame this side accepts (ws closes with 1009 above it); default 4 MiB */
  maxPayload?: number;
}

export interface RawClose {
  code: number;
  reason: string;
}

/**
 * A node that speaks the wire protocol by hand, for adversarial tests: it
 * sends whatever text it is given (malformed, forged, oversized) and records
 * every frame and the close it gets back. It knows nothing about envelopes
 * itself; the test decides what to send and how to read what comes back.
 */
export class RawNode<M = unknown> {
  readonly received: M[] = [];
  /** frames that did not decode */
  undecodable = 0;
  /** resolves once the socket has closed, with the peer's close code */
  readonly closed: Promise<RawClose>;
  /** called for every decoded message as it arrives (e.g. a raw replica answering requests) */
  onMessage: (m: M) => void = () => {};
  private readonly waiters = new Set<() => void>();
  private ended = false;

  private constructor(
    private readonly ws: WebSocket,
    decode: (text: string) => M,
  ) {
    ws.on("message", (data: Buffer) => {
      let m: M;
      try {
        m = decode(data.toString("utf8"));
      } catch {
        this.undecodable++;
        return;
      }
      this.received.push(m);
      this.onMessage(m);
      this.wake();
    });
    this.closed = new Promise((resolve) => {
      ws.once("close", (code: number, reason: Buffer) => {
        this.ended = true;
        this.wake();
        resolve({ code, reason: reason.toString("utf8") });
      });
    });
    // Errors (a refused frame, a reset) always end in "close"; that is what tests observe.
    ws.on("error", () => {});
  }

  /** opens the WebSocket; resolves once it is open */
  static async connect<M = unknown>(opts: RawNodeOptions<M>): Promise<RawNode<M>> {
    const ws = new WebSocket(opts.url, {
      ...(opts.ca ? { ca: opts.ca } : {}),
      perMessageDeflate: false,
      maxPayload: opts.maxPayload ?? 4 * 1024 * 1024,
      handshakeTimeout: 10_000,
    });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    return new RawNode(ws, opts.decode ?? ((text) => JSON.parse(text) as M));
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** sends one text frame; resolves once it is written, so a flood keeps to the socket's pace */
  send(text: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!this.isOpen) {
        reject(new Error("raw node: socket is not open"));
        return;
      }
      this.ws.send(text, { binary: false }, (err) => (err ? reject(err) : resolve()));
    });
  }

  /**
   * The first message (already received or still to come) for which `match`
   * is true. Rejects on timeout, or when the socket closes without one.
   */
  waitFor(match: (m: M) => boolean, timeoutMs = 10_000): Promise<M> {
    return new Promise((resolve, reject) => {
      // each check looks only at what arrived since the last one: a flood stays linear
      let scanned = 0;
      const check = () => {
        for (; scanned < this.received.length; scanned++) {
          const m = this.received[scanned]!;
          if (match(m)) {
            done();
            resolve(m);
            return;
          }
        }
        if (this.ended) {
          done();
          reject(new Error("raw node: socket closed before the expected frame"));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`raw node: no matching frame within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** closes the socket (terminates it if the close handshake does not finish in time) */
  async close(): Promise<void> {
    if (this.ended) return;
    const t = setTimeout(() => this.ws.terminate(), 2000);
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000, "raw node done");
    else this.ws.terminate();
    await this.closed;
    clearTimeout(t);
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

/**
 * Runs real admission (OAuth2 → Welcome → CA) with a node environment such
 * as FabricStack.nodeEnv: a fresh identity, ticket and certificate whose key
 * the raw node then signs with.
 */
export function admitRawNode(
  nodeEnv: Record<string, string>,
  opts: { logicals: string[]; instanceId?: string },
): Promise<Admission> {
  return admitNode({
    ...admissionOptionsFromEnv(nodeEnv),
    instanceId: opts.instanceId ?? `raw_${Math.random().toString(36).slice(2, 12)}`,
    requestedLogicals: opts.logicals,
  });
}
