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
import { RawNode } from "@fame/testkit";

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

const MAX_FRAME_BYTES = 8 * 1024 * 1024;

/**
 * A hostile (or just hand-driven) node: speaks the wire protocol directly over
 * testkit's RawNode, sends whatever it is told to, and records every envelope
 * and the close code it gets back.
 */
export class Attacker {
  sid = "pending";
  path = "";
  signer: EnvelopeSigner | undefined;

  private constructor(private readonly node: RawNode<Envelope>) {}

  static async tryConnect(opts: AttackerOptions): Promise<ConnectOutcome> {
    const outcome = await RawNode.tryConnect<Envelope>({
      url: opts.url,
      ca: opts.ca,
      maxPayload: MAX_FRAME_BYTES,
      handshakeTimeoutMs: opts.handshakeTimeoutMs ?? 15_000,
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      decode: (text) => decodeEnvelope(text, { maxFrameBytes: MAX_FRAME_BYTES }),
    });
    return outcome.ok ? { ok: true, node: new Attacker(outcome.node) } : outcome;
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

  /** every envelope received so far */
  get received(): Envelope[] {
    return this.node.received;
  }

  /** frames from the sentinel that did not decode (there should be none) */
  get undecodable(): number {
    return this.node.undecodable;
  }

  get closed(): Promise<{ code: number; reason: string }> {
    return this.node.closed;
  }

  get isOpen(): boolean {
    return this.node.isOpen;
  }

  get isClosed(): boolean {
    return this.node.isClosed;
  }

  sendText(text: string | Buffer): Promise<void> {
    return this.node.send(text);
  }

  sendBinary(data: Buffer): Promise<void> {
    return this.node.sendBinary(data);
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
    return this.node.waitFor(match, timeoutMs);
  }

  /** the nack (DeliveryAck ok:false) answering envelope `id` */
  nackFor(id: string, timeoutMs = 10_000): Promise<Envelope> {
    return this.waitFor(
      (e) => e.frame.type === "DeliveryAck" && e.frame.refId === id && e.frame.ok === false,
      timeoutMs,
    );
  }

  /**
   * After a heartbeat round trip (every frame sent before it has been read by then), the
   * sentinel's nacks to undecodable frames received since index `from`, counted by code.
   */
  async undecodableNacksSince(from: number): Promise<Record<string, number>> {
    const probe = await this.send({ frame: { type: "Heartbeat" } });
    await this.waitFor((e) => e.frame.type === "HeartbeatAck" && e.corrId === probe.id);
    const got: Record<string, number> = {};
    for (const e of this.received.slice(from)) {
      if (e.frame.type === "DeliveryAck" && e.frame.refId === "unknown") {
        const code = e.frame.code ?? "?";
        got[code] = (got[code] ?? 0) + 1;
      }
    }
    return got;
  }

  /** sends NodeAttach and waits for the answer; on success adopts the assigned path and sid */
  async attach(frame: {
    systemId: string;
    instanceId?: string;
    logicals?: string[];
    attachTicket?: string;
    keys?: Extract<Frame, { type: "NodeAttach" }>["keys"];
    capabilities?: string[];
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
        ...(frame.capabilities ? { capabilities: frame.capabilities } : {}),
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

  close(): Promise<void> {
    return this.node.close();
  }

  terminate(): void {
    this.node.terminate();
  }
}
