import type { Socket } from "node:net";
import type { Logger } from "@fame/logger";
import {
  decodeEnvelope,
  type Envelope,
  type EnvelopeInit,
  encodeEnvelope,
  encodeSealedEnvelope,
  type Frame,
  isSealedData,
  type KeyAnnounce,
  type Limits,
  makeEnvelope,
  type NodeAttachAck,
  resolveLimits,
  sidFromPath,
} from "@fame/protocol";
import WebSocket from "ws";
import { describeEnvelope } from "./envelope-view.js";
import type { NodeSigner } from "./node-signer.js";
import type { PeerKey, PeerKeyDirectory } from "./peer-keys.js";

/** envelopes waiting behind a key fetch; beyond it a flood of unknown kids is dropped */
const MAX_INBOX_DEPTH = 10_000;

export type SecurityProfile = "open" | "overlay" | "strict-overlay";

/** What admission produced for one attach: where to go and with what. */
export interface AttachPlan {
  url: string;
  systemId: string;
  instanceId: string;
  attachTicket?: string | undefined;
  logicals: string[];
  signer: NodeSigner;
}

export interface FabricConnectionOptions {
  securityProfile: SecurityProfile;
  /** runs admission for each (re)attach: a ticket is single use */
  plan: () => Promise<AttachPlan>;
  trustBundlePem?: string | undefined;
  peerKeys: PeerKeyDirectory;
  log: Logger;
  showEnvelopes?: boolean;
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number; maxAttempts?: number };
  controlTimeoutMs?: number;
  maxFrameBytes?: number;
  /** plain ws:// allowed (FAME_DEV_INSECURE_HTTP); otherwise only wss:// is dialled */
  allowInsecureTransport?: boolean;
}

export type ConnectionState = "idle" | "connecting" | "attached" | "reconnecting" | "closed";

export class ConnectionError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ConnectionError";
  }
}

interface Waiter {
  resolve(env: Envelope): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * One node's link to its sentinel: attach, address binding, heartbeats,
 * signing on the way out, end-to-end verification on the way in, and
 * reconnection with backoff. Everything above it (RPC, channels) only sees
 * envelopes.
 */
/** ws's generateMask hook: an all-zero masking key (see attachOnce) */
function zeroMask(mask: Buffer): void {
  mask.fill(0);
}

export class FabricConnection {
  state: ConnectionState = "idle";
  systemId = "";
  sid = "";
  path = "";
  /** the sentinel's sid: envelopes under it are the sentinel's own control frames */
  sentinelSid = "";
  /** called for every verified Data, Secure-frame or DeliveryAck envelope */
  onEnvelope: (env: Envelope) => void = () => {};
  /** the link dropped: everything in flight through it is lost */
  onDisconnected: (reason: string) => void = () => {};
  onAttached: () => void = () => {};

  private ws: WebSocket | undefined;
  /** the TLS socket under `ws`, corked while one tick's frames are written */
  private socket: Socket | undefined;
  private corked = false;
  private signer: NodeSigner | undefined;

  /** the key this node signs with (and, as a replica, signs AFTs with) */
  get nodeSigner(): NodeSigner | undefined {
    return this.signer;
  }
  private readonly bound = new Set<string>();
  private readonly waiters = new Map<string, Waiter>();
  private heartbeat: NodeJS.Timeout | undefined;
  /** the backoff wait between reattach attempts, and how to cut it short on close() */
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectWake: (() => void) | undefined;
  private readonly attachWaiters = new Set<() => void>();
  private lastHeard = 0;
  private attempts = 0;
  private inbox: Promise<void> = Promise.resolve();
  private inboxDepth = 0;
  /** a full inbox is logged once, not once per dropped envelope */
  private inboxOverflowLogged = false;
  private readonly signed: boolean;
  /** decode limits, resolved once for every frame from the sentinel */
  private readonly limits: Readonly<Limits>;
  /** what this node may send: its own frame limit, or the attached sentinel's if smaller */
  private sendLimits: Readonly<Limits>;

  constructor(private readonly opts: FabricConnectionOptions) {
    this.signed = opts.securityProfile !== "open";
    this.limits = resolveLimits({ maxFrameBytes: opts.maxFrameBytes ?? 1024 * 1024 });
    this.sendLimits = this.limits;
  }

  /** physical address where replies to this node's requests come back */
  get replyAddress(): string {
    return `rpc@${this.path}`;
  }

  get boundAddresses(): string[] {
    return [...this.bound];
  }

  /** first attach: fails if the fabric refuses us (no endless retry on a config error) */
  async start(): Promise<void> {
    if (this.state !== "idle") throw new ConnectionError("bad_state", `cannot start from ${this.state}`);
    this.state = "connecting";
    try {
      await this.attachOnce();
    } catch (err) {
      // The caller gets no connection to close: a socket the sentinel never answered, or a
      // link attached before a bind was refused, would otherwise stay open (and heartbeat).
      await this.close();
      throw err;
    }
  }

  async bind(address: string): Promise<void> {
    this.bound.add(address);
    if (this.state === "attached") await this.sendBind(address);
  }

  async unbind(address: string): Promise<void> {
    this.bound.delete(address);
    if (this.state === "attached") this.send({ to: undefined, frame: { type: "AddressUnbind", address } });
  }

  /**
   * Fills sid, lets `prepare` finish the envelope once its immutable headers
   * are fixed (channel sealing binds them as AAD), signs, sends.
   */
  send<F extends Frame>(init: Omit<EnvelopeInit<F>, "sid">, prepare?: (env: Envelope) => void): Envelope<F> {
    const env = this.outgoing(init);
    prepare?.(env);
    // Sealed channel data goes unsigned: its AEAD tag already authenticates it end to end.
    if (this.signed && !isSealedData(env)) this.signer!.sign(env);
    this.write(env);
    return env;
  }

  /**
   * Sends a Data envelope that `seal` turns into sealed channel data (SecureChannel.sealText,
   * whose ciphertext comes from base64urlEncode): encoded by encodeSealedEnvelope, which
   * validates all but that ciphertext.
   */
  sendSealed(init: Omit<EnvelopeInit<Frame>, "sid">, seal: (env: Envelope) => void): Envelope {
    const env = this.outgoing(init);
    seal(env);
    this.write(env, true);
    return env;
  }

  /** a new envelope from this node; throws not_connected unless attached */
  private outgoing<F extends Frame>(init: Omit<EnvelopeInit<F>, "sid">): Envelope<F> {
    if (this.state !== "attached" || !this.ws) {
      throw new ConnectionError("not_connected", `cannot send while ${this.state}`);
    }
    return makeEnvelope<F>({ ...init, sid: this.sid } as EnvelopeInit<F>);
  }

  /**
   * Resolves true once the link is attached (at once if it is), false after `timeoutMs`, on
   * close() or when reconnecting is given up.
   */
  whenAttached(timeoutMs: number): Promise<boolean> {
    if (this.state === "attached") return Promise.resolve(true);
    if (this.state === "closed" || this.state === "idle") return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.attachWaiters.delete(done);
        resolve(this.state === "attached");
      };
      const timer = setTimeout(done, timeoutMs);
      this.attachWaiters.add(done);
    });
  }

  private wakeAttachWaiters(): void {
    for (const w of [...this.attachWaiters]) w();
  }

  /** announce that this node is draining: the sentinel stops giving it new channels */
  drain(): void {
    if (this.state === "attached") this.send({ frame: { type: "Drain" } });
  }

  async close(): Promise<void> {
    if (this.state === "closed") return;
    this.state = "closed";
    clearInterval(this.heartbeat);
    clearTimeout(this.reconnectTimer);
    this.reconnectWake?.();
    this.wakeAttachWaiters();
    this.rejectWaiters(new ConnectionError("closed", "connection closed"));
    const ws = this.ws;
    if (ws && ws.readyState === WebSocket.OPEN) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          ws.terminate();
          resolve();
        }, 2000);
        ws.once("close", () => {
          clearTimeout(t);
          resolve();
        });
        ws.close(1000, "node closing");
      });
    } else ws?.terminate();
  }

  /** asks the sentinel for a peer's key and vets it (strict-overlay: its certificate chain) */
  async fetchKey(kid: string): Promise<PeerKey | undefined> {
    let answer: Envelope;
    try {
      // send throws while the link is down: the key is as unknown as if nobody answered
      const env = this.send({ replyTo: this.replyAddress, frame: { type: "KeyRequest", kid } });
      answer = await this.waitFor(env.id);
    } catch {
      return undefined;
    }
    if (answer.frame.type !== "KeyAnnounce" || !answer.frame.sid) return undefined;
    const frame = answer.frame as KeyAnnounce;
    const learned = await this.opts.peerKeys.learn(frame.keys, frame.sid!);
    return learned.find((k) => k.kid === kid);
  }

  // ───────────────────────── attach / reconnect ─────────────────────────

  private async attachOnce(): Promise<void> {
    const plan = await this.opts.plan();
    // The URL may come from Welcome's answer: the check belongs here, at the dial.
    if (
      !plan.url.startsWith("wss://") &&
      !(this.opts.allowInsecureTransport && plan.url.startsWith("ws://"))
    ) {
      throw new ConnectionError(
        "insecure_transport",
        `refusing to attach over ${plan.url.split("//")[0]}// (wss:// required; FAME_DEV_INSECURE_HTTP=1 allows ws:// in development)`,
      );
    }
    this.signer = plan.signer;
    const ws = new WebSocket(plan.url, {
      ...(this.opts.trustBundlePem ? { ca: this.opts.trustBundlePem } : {}),
      perMessageDeflate: false,
      maxPayload: (this.opts.maxFrameBytes ?? 1024 * 1024) * 2,
      handshakeTimeout: this.opts.controlTimeoutMs ?? 10_000,
      // RFC 6455 masks client frames so that a page's script cannot plant chosen bytes in a
      // cleartext proxy's view of the stream. Inside TLS no intermediary sees the frames and
      // this client is not a browser, so a zero key is used: ws then skips the XOR on both
      // ends (it was ~10 % of the sentinel's CPU). Plain ws:// (development only) keeps random keys.
      ...(plan.url.startsWith("wss://") ? { generateMask: zeroMask } : {}),
    });
    this.ws = ws;
    ws.once("upgrade", (res) => {
      this.socket = res.socket;
    });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", (err) => reject(new ConnectionError("connect_failed", `${plan.url}: ${err.message}`)));
    });
    ws.on("message", (data: Buffer) => this.receive(data));
    ws.on("error", (err) => this.opts.log.warn({ err: err.message }, "sentinel link error"));
    ws.on("close", (code, reason) => this.onSocketClosed(ws, code, reason.toString()));

    const attach = makeEnvelope({
      sid: "pending",
      frame: {
        type: "NodeAttach",
        systemId: plan.systemId,
        instanceId: plan.instanceId,
        logicals: plan.logicals,
        keys: this.signed ? [plan.signer.jwk] : [],
        ...(plan.attachTicket ? { attachTicket: plan.attachTicket } : {}),
      },
    });
    if (this.signed) plan.signer.sign(attach);
    this.write(attach);
    const ack = (await this.waitFor(attach.id)) as Envelope<NodeAttachAck>;
    if (!ack.frame.ok) {
      throw new ConnectionError(
        ack.frame.code ?? "attach_refused",
        `attach refused: ${ack.frame.reason ?? ack.frame.code}`,
      );
    }
    this.systemId = plan.systemId;
    this.path = ack.frame.assignedPath ?? "";
    this.sid = sidFromPath(this.path);
    this.sentinelSid = ack.sid;
    // Never send what the sentinel would refuse (it says how much it takes): an oversized frame
    // fails here, at once, with frame_too_large, instead of as a nack nobody can match.
    const theirs = ack.frame.maxFrameBytes;
    this.sendLimits =
      theirs !== undefined && theirs < this.limits.maxFrameBytes
        ? resolveLimits({ maxFrameBytes: theirs })
        : this.limits;
    this.state = "attached";
    this.attempts = 0;
    this.lastHeard = Date.now();
    this.startHeartbeat(ack.frame.heartbeatMs ?? 5000);
    for (const address of this.bound) await this.sendBind(address);
    this.opts.log.info(
      { systemId: this.systemId, path: this.path, addresses: [...this.bound] },
      "attached to sentinel",
    );
    this.onAttached();
    this.wakeAttachWaiters();
  }

  private async sendBind(address: string): Promise<void> {
    const env = this.send({ frame: { type: "AddressBind", address } });
    const ack = await this.waitFor(env.id);
    if (ack.frame.type !== "AddressBindAck" || !ack.frame.ok) {
      const f = ack.frame as { code?: string; reason?: string };
      this.bound.delete(address);
      throw new ConnectionError(f.code ?? "bind_refused", `bind ${address} refused: ${f.reason ?? f.code}`);
    }
  }

  private startHeartbeat(intervalMs: number): void {
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => {
      if (this.state !== "attached") return;
      if (Date.now() - this.lastHeard > intervalMs * 3) {
        this.opts.log.warn("sentinel silent: reconnecting");
        this.ws?.terminate();
        return;
      }
      try {
        this.send({ frame: { type: "Heartbeat" } });
      } catch {
        // the close handler takes over
      }
    }, intervalMs);
    this.heartbeat.unref();
  }

  private onSocketClosed(ws: WebSocket, code: number, reason: string): void {
    if (ws !== this.ws) return;
    clearInterval(this.heartbeat);
    this.rejectWaiters(new ConnectionError("disconnected", `sentinel link closed (${code} ${reason})`));
    const wasAttached = this.state === "attached";
    if (this.state === "closed") return;
    if (wasAttached) {
      this.state = "reconnecting";
      this.opts.log.warn({ code, reason }, "sentinel link lost");
      this.onDisconnected(`sentinel link closed (${code})`);
      void this.reconnectLoop();
    }
  }

  private async reconnectLoop(): Promise<void> {
    const r = this.opts.reconnect ?? {};
    const initial = r.initialDelayMs ?? 200;
    const max = r.maxDelayMs ?? 5000;
    const maxAttempts = r.maxAttempts ?? 1000;
    while (this.state === "reconnecting" && this.attempts < maxAttempts) {
      const delay = Math.min(max, initial * 2 ** Math.min(this.attempts, 16)) * (0.5 + Math.random() / 2);
      this.attempts++;
      // A referenced timer on purpose: a node waiting to reattach still has work to do, and
      // an unreferenced one let a process whose only job is this link exit (code 0) instead.
      await new Promise<void>((res) => {
        this.reconnectWake = res;
        this.reconnectTimer = setTimeout(res, delay);
      });
      this.reconnectWake = undefined;
      if (this.state !== "reconnecting") return;
      try {
        await this.attachOnce();
        return;
      } catch (err) {
        this.opts.log.warn({ attempt: this.attempts, err: (err as Error).message }, "reattach failed");
        // Failed after the attach itself (e.g. a refused bind): this loop retries, the
        // close handler must not start a second one.
        if ((this.state as ConnectionState) === "attached") this.state = "reconnecting";
        this.ws?.terminate();
      }
    }
    if (this.state === "reconnecting") {
      this.opts.log.error({ attempts: this.attempts }, "giving up on the sentinel");
      this.state = "closed";
      this.wakeAttachWaiters();
    }
  }

  // ───────────────────────── wire ─────────────────────────

  /** Writes out what this turn has sent so far instead of waiting for the end of the turn. */
  flushWrites(): void {
    const socket = this.socket;
    if (!socket || !this.corked) return;
    // cork() counts: this pair leaves one level in place for the scheduled uncork
    socket.uncork();
    socket.cork();
  }

  private write(env: Envelope, sealedHere = false): void {
    if (this.opts.showEnvelopes) this.opts.log.info(describeEnvelope("send", env), "envelope");
    // Everything sent in this tick (a burst of replies, stream items) leaves in one TLS write.
    const socket = this.socket;
    if (socket && !this.corked) {
      this.corked = true;
      socket.cork();
      process.nextTick(() => {
        this.corked = false;
        socket.uncork();
      });
    }
    this.ws!.send(
      sealedHere ? encodeSealedEnvelope(env, this.sendLimits) : encodeEnvelope(env, this.sendLimits),
    );
  }

  private waitFor(id: string): Promise<Envelope> {
    const timeoutMs = this.opts.controlTimeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(id);
        reject(new ConnectionError("timeout", `no answer from the sentinel in ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(id, { resolve, reject, timer });
    });
  }

  /** hands `env` to the waiter of its corrId; false when nobody waits for it */
  private settleWaiter(env: Envelope): boolean {
    const w = env.corrId ? this.waiters.get(env.corrId) : undefined;
    if (!w) return false;
    clearTimeout(w.timer);
    this.waiters.delete(env.corrId!);
    w.resolve(env);
    return true;
  }

  private rejectWaiters(err: ConnectionError): void {
    for (const w of this.waiters.values()) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.waiters.clear();
  }

  private receive(data: Buffer): void {
    this.lastHeard = Date.now();
    let env: Envelope;
    try {
      env = decodeEnvelope(data, this.limits);
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message }, "undecodable frame from sentinel dropped");
      return;
    }
    if (this.opts.showEnvelopes) this.opts.log.info(describeEnvelope("recv", env), "envelope");
    // Control frames from the sentinel answer a waiter by corrId.
    const t = env.frame.type;
    if (t === "NodeAttachAck" || t === "AddressBindAck" || t === "KeyAnnounce") {
      this.settleWaiter(env);
      return;
    }
    if (t === "HeartbeatAck" || t === "Heartbeat") return;
    // A nack of one of our control requests (e.g. a KeyRequest) answers its waiter.
    if (t === "DeliveryAck" && this.settleWaiter(env)) return;
    if (env.sid === this.sentinelSid || !this.signed) {
      this.deliver(env);
      return;
    }
    if (isSealedData(env)) {
      // Unsigned by design: FabricNode opens it with the keys of the channel its sender
      // shook hands on (signed SecureOpen/SecureAccept), which authenticates it end to end.
      if (this.inboxDepth === 0) this.deliver(env);
      else this.enqueue(env, () => this.deliver(env));
      return;
    }
    // Peer envelopes are verified end to end, in arrival order.
    const kid = env.sec?.sig?.kid;
    const known = kid ? this.opts.peerKeys.get(kid) : undefined;
    if (known && this.inboxDepth === 0) {
      this.verifyAndDeliver(env, known);
      return;
    }
    this.enqueue(env, async () => {
      const key = kid ? await this.opts.peerKeys.resolve(kid, () => this.fetchKey(kid)) : undefined;
      this.verifyAndDeliver(env, key);
    });
  }

  /** runs `task` after every envelope queued before it; one failing task must not stall the rest */
  private enqueue(env: Envelope, task: () => void | Promise<void>): void {
    if (this.inboxDepth >= MAX_INBOX_DEPTH) {
      if (!this.inboxOverflowLogged) {
        this.opts.log.warn({ from: env.sid, depth: this.inboxDepth }, "inbox full: envelopes dropped");
        this.inboxOverflowLogged = true;
      }
      return;
    }
    this.inboxOverflowLogged = false;
    this.inboxDepth++;
    this.inbox = this.inbox
      .then(task)
      .catch((err: unknown) => {
        this.opts.log.warn({ from: env.sid, err: (err as Error).message }, "queued envelope dropped");
      })
      .finally(() => {
        this.inboxDepth--;
      });
  }

  private verifyAndDeliver(env: Envelope, key: PeerKey | undefined): void {
    const outcome = key ? this.opts.peerKeys.verify(env, key) : env.sec?.sig ? "unknown_key" : "unsigned";
    if (outcome !== "ok") {
      this.opts.log.warn(
        { from: env.sid, type: env.frame.type, outcome },
        "envelope failed end-to-end verification",
      );
      if (env.replyTo && env.frame.type !== "DeliveryAck") {
        try {
          this.send({
            to: env.replyTo,
            corrId: env.corrId ?? env.id,
            frame: {
              type: "DeliveryAck",
              ok: false,
              refId: env.id,
              code: "signature_invalid",
              reason: outcome,
            },
          });
        } catch {
          // not connected: nothing to tell
        }
      }
      return;
    }
    this.deliver(env);
  }

  private deliver(env: Envelope): void {
    try {
      this.onEnvelope(env);
    } catch (err) {
      this.opts.log.error({ err }, "envelope handler failed");
    }
  }
}
