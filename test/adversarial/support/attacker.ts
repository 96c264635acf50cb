import type { Jwk } from "@fame/protocol";
import {
  decodeEnvelope,
  type Envelope,
  type EnvelopeInit,
  encodeEnvelope,
  type Frame,
  makeEnvelope,
  type NodeAttachAck,
  sidFromPath,
} from "@fame/protocol";
import WebSocket from "ws";

/** what signs this node's envelopes: a NodeSigner, or a forger pretending to be one */
export interface EnvelopeSigner {
  readonly kid: string;
  readonly jwk: Jwk;
  sign<E extends Envelope>(env: E): E;
}

export interface AttackerOptions {
  url: string;
  ca: string;
  /** source address to connect from (127.0.0.2, …): loopback aliases stand in for other hosts */
  localAddress?: string;
  handshakeTimeoutMs?: number;
}

export type ConnectOutcome =
  | { ok: true; node: Attacker }
  /** the sentinel answered the upgrade with an HTTP status (429, 503, …) */
  | { ok: false; status: number; body: string }
  | { ok: false; status: undefined; error: string };

/**
 * A hostile (or just hand-driven) node: speaks the wire protocol directly over
 * its own WebSocket, sends whatever it is told to, and records every envelope
 * and the close code it gets back.
 */
export class Attacker {
  readonly received: Envelope[] = [];
  /** frames from the sentinel that did not decode (there should be none) */
  undecodable = 0;
  readonly closed: Promise<{ code: number; reason: string }>;
  sid = "pending";
  path = "";
  signer: EnvelopeSigner | undefined;
  private ended = false;
  private readonly waiters = new Set<() => void>();

  private constructor(private readonly ws: WebSocket) {
    ws.on("message", (data: Buffer) => {
      try {
        this.received.push(decodeEnvelope(data, { maxFrameBytes: 8 * 1024 * 1024 }));
      } catch {
        this.undecodable++;
      }
      this.wake();
    });
    this.closed = new Promise((resolve) => {
      ws.once("close", (code: number, reason: Buffer) => {
        this.ended = true;
        this.wake();
        resolve({ code, reason: reason.toString() });
      });
    });
    ws.on("error", () => {
      // always followed by "close", which is what the tests look at
    });
  }

  static async tryConnect(opts: AttackerOptions): Promise<ConnectOutcome> {
    const ws = new WebSocket(opts.url, {
      ca: opts.ca,
      perMessageDeflate: false,
      maxPayload: 8 * 1024 * 1024,
      handshakeTimeout: opts.handshakeTimeoutMs ?? 15_000,
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
    });
    return new Promise<ConnectOutcome>((resolve) => {
      ws.once("open", () => resolve({ ok: true, node: new Attacker(ws) }));
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

  static async connect(opts: AttackerOptions): Promise<Attacker> {
    const outcome = await Attacker.tryConnect(opts);
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

  get isClosed(): boolean {
    return this.ended;
  }

  sendText(text: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!this.isOpen) return reject(new Error("attacker socket is not open"));
      this.ws.send(text, { binary: false }, (err) => (err ? reject(err) : resolve()));
    });
  }

  sendBinary(data: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!this.isOpen) return reject(new Error("attacker socket is not open"));
      this.ws.send(data, { binary: true }, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** builds an envelope under this node's sid, signed when it has a signer (and `sign` is not false) */
  envelope<F extends Frame>(init: Omit<EnvelopeInit<F>, "sid">, sign = true): Envelope<F> {
    const env = makeEnvelope<F>({ ...init, sid: this.sid } as EnvelopeInit<F>);
    if (sign && this.signer) this.signer.sign(env);
    return env;
  }

  async send<F extends Frame>(init: Omit<EnvelopeInit<F>, "sid">, sign = true): Promise<Envelope<F>> {
    const env = this.envelope(init, sign);
    await this.sendText(encodeEnvelope(env));
    return env;
  }

  /** the first envelope (already received or still to come) matching */
  waitFor(match: (env: Envelope) => boolean, timeoutMs = 10_000): Promise<Envelope> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = this.received.find(match);
        if (hit) {
          done();
          resolve(hit);
        } else if (this.ended) {
          done();
          reject(new Error("socket closed before the expected frame"));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no matching frame within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** the nack (DeliveryAck ok:false) answering envelope `id` */
  nackFor(id: string, timeoutMs = 10_000): Promise<Envelope> {
    return this.waitFor(
      (e) => e.frame.type === "DeliveryAck" && e.frame.refId === id && e.frame.ok === false,
      timeoutMs,
    );
  }

  /** sends NodeAttach and waits for the answer; on success adopts the assigned path and sid */
  async attach(frame: {
    systemId: string;
    instanceId?: string;
    logicals?: string[];
    attachTicket?: string;
    keys?: Extract<Frame, { type: "NodeAttach" }>["keys"];
  }): Promise<NodeAttachAck> {
    const env = makeEnvelope({
      sid: "pending",
      frame: {
        type: "NodeAttach",
        systemId: frame.systemId,
        instanceId: frame.instanceId ?? `i_${frame.systemId}`,
        logicals: frame.logicals ?? [],
        keys: frame.keys ?? (this.signer ? [this.signer.jwk] : []),
        ...(frame.attachTicket ? { attachTicket: frame.attachTicket } : {}),
      },
    });
    if (this.signer) this.signer.sign(env);
    await this.sendText(encodeEnvelope(env));
    const ack = (await this.waitFor((e) => e.frame.type === "NodeAttachAck")).frame as NodeAttachAck;
    if (ack.ok && ack.assignedPath) {
      this.path = ack.assignedPath;
      this.sid = sidFromPath(ack.assignedPath);
    }
    return ack;
  }

  get replyTo(): string {
    return `rpc@${this.path}`;
  }

  async close(): Promise<void> {
    if (this.ended) return;
    const t = setTimeout(() => this.ws.terminate(), 2000);
    if (this.isOpen) this.ws.close(1000, "done");
    else this.ws.terminate();
    await this.closed;
    clearTimeout(t);
  }

  terminate(): void {
    this.ws.terminate();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}
