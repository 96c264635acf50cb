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
  /** source address to connect from (127.0.0.2, …): loopback aliases stand in for other hosts */
  localAddress?: string;
  /** default 10 s */
  handshakeTimeoutMs?: number;
}

/** how an attempt to connect ended: a node, an HTTP answer to the upgrade, or an error */
export type RawConnectOutcome<M> =
  | { ok: true; node: RawNode<M> }
  /** the sentinel answered the upgrade with an HTTP status (429, 503, …) */
  | { ok: false; status: number; body: string }
  | { ok: false; status: undefined; error: string };

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

  /** tries to open the WebSocket; a refused upgrade or a failed connection is an outcome, not a throw */
  static tryConnect<M = unknown>(opts: RawNodeOptions<M>): Promise<RawConnectOutcome<M>> {
    const ws = new WebSocket(opts.url, {
      ...(opts.ca ? { ca: opts.ca } : {}),
      perMessageDeflate: false,
      maxPayload: opts.maxPayload ?? 4 * 1024 * 1024,
      handshakeTimeout: opts.handshakeTimeoutMs ?? 10_000,
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
    });
    const decode = opts.decode ?? ((text: string) => JSON.parse(text) as M);
    return new Promise<RawConnectOutcome<M>>((resolve) => {
      ws.once("open", () => resolve({ ok: true, node: new RawNode(ws, decode) }));
      ws.once("unexpected-response", (_req, res) => {
        let body = "";
        res.on("data", (c: Buffer) => {
          body += c.toString();
        });
        res.on("end", () => resolve({ ok: false, status: res.statusCode ?? 0, body }));
        res.on("error", () => resolve({ ok: false, status: res.statusCode ?? 0, body }));
      });
      ws.once("error", (err) => resolve({ ok: false, status: undefined, error: err.message }));
    }).then((outcome) => {
      if (!outcome.ok) ws.terminate();
      return outcome;
    });
  }

  /** opens the WebSocket; resolves once it is open, rejects when it cannot be */
  static async connect<M = unknown>(opts: RawNodeOptions<M>): Promise<RawNode<M>> {
    const outcome = await RawNode.tryConnect(opts);
    if (!outcome.ok) {
      throw new Error(
        outcome.status !== undefined ? `upgrade refused: HTTP ${outcome.status}` : outcome.error,
      );
    }
    return outcome.node;
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** the socket has closed (the peer's close code is in `closed`) */
  get isClosed(): boolean {
    return this.ended;
  }

  /** sends one text frame; resolves once it is written, so a flood keeps to the socket's pace */
  send(text: string | Buffer): Promise<void> {
    return this.sendFrame(text, false);
  }

  /** sends one binary frame (which the fabric refuses: for tests of that refusal) */
  sendBinary(data: Buffer): Promise<void> {
    return this.sendFrame(data, true);
  }

  private sendFrame(data: string | Buffer, binary: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!this.isOpen) {
        reject(new Error("raw node: socket is not open"));
        return;
      }
      this.ws.send(data, { binary }, (err) => (err ? reject(err) : resolve()));
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

  /** drops the connection without a close handshake */
  terminate(): void {
    this.ws.terminate();
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
