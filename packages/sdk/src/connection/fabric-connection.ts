import type { Logger } from "@fame/logger";
import {
  checkLinkBatchEntry,
  decodeBinaryRecord,
  decodeEnvelope,
  type Envelope,
  type EnvelopeInit,
  type ErrorCode,
  encodeBinaryRecord,
  encodeEnvelope,
  encodeEnvelopeWithPayload,
  encodeSealedEnvelope,
  type Frame,
  type FreshnessLimits,
  FreshnessWindow,
  isBinaryRecord,
  isLinkBatch,
  isSealedData,
  type KeyAnnounce,
  LINK_BATCH_SEND_BYTES,
  LINK_BATCH_SEND_ENTRIES,
  type Limits,
  makeEnvelope,
  resolveLimits,
  type SplitBatch,
  splitLinkBatch,
} from "@fame/protocol";
import {
  type AttachedSession,
  type AttachPlan,
  attachRequest,
  checkDialable,
  sessionFrom,
} from "./attach.js";
import { ConnectionError } from "./connection-error.js";
import { ControlRequests } from "./control-requests.js";
import { describeEnvelope } from "./envelope-view.js";
import { Heartbeat } from "./heartbeat.js";
import type { LinkDialer, NodeLink } from "./node-link.js";
import type { NodeSigner } from "./node-signer.js";
import type { PeerKey, PeerKeyDirectory } from "./peer-keys.js";
import {
  busyWaitMs,
  nothingListening,
  ReconnectBackoff,
  type ReconnectSettings,
} from "./reconnect-backoff.js";
import { SentinelChoice } from "./sentinel-choice.js";
import { VerifiedInbox } from "./verified-inbox.js";
import { dialWebSocket } from "./ws-link.js";

export type { AttachPlan } from "./attach.js";
export { ConnectionError } from "./connection-error.js";

export type SecurityProfile = "open" | "overlay" | "strict-overlay";

export interface FabricConnectionOptions {
  securityProfile: SecurityProfile;
  /** runs admission for each (re)attach: a ticket is single use */
  plan: () => Promise<AttachPlan>;
  trustBundlePem?: string | undefined;
  peerKeys: PeerKeyDirectory;
  log: Logger;
  showEnvelopes?: boolean;
  reconnect?: ReconnectSettings;
  /**
   * once the reconnect attempts are spent, set the process's exit code to 1 (connectFabric: a
   * node's process then ends as failed, for its supervisor to restart); default false
   */
  failProcessOnGiveUp?: boolean;
  /**
   * how long start() waits out a busy fabric (an answer with Retry-After: the sentinel's attach
   * gate, Welcome or the CA saturated) before it fails; default 0, the first refusal fails
   */
  startWaitMs?: number;
  controlTimeoutMs?: number;
  maxFrameBytes?: number;
  /** link batches to and from a sentinel that takes them (FAME_LINK_BATCH); default on */
  linkBatch?: boolean;
  /** sealed Data as binary records with a sentinel that takes them (FAME_BINARY_RECORDS); default on */
  binaryRecords?: boolean;
  /** clear calls to a logical address batched, with a sentinel that takes them (FAME_POOL_BATCH); default on */
  poolBatch?: boolean;
  /** plain ws:// allowed (FAME_DEV_INSECURE_HTTP); otherwise only wss:// is dialled */
  allowInsecureTransport?: boolean;
  /**
   * Signed envelopes must be fresh (ts within the skew window, id not seen before from that
   * sender); false turns the check off (tests of the layers above only).
   */
  freshness?: Partial<FreshnessLimits> | false;
}

/** What the connection reports to the node above it. */
export interface ConnectionEvents {
  /** every verified Data, Secure-frame or DeliveryAck envelope */
  onEnvelope(env: Envelope): void;
  /** the link dropped: everything in flight through it is lost (a reattach follows) */
  onDisconnected(reason: string): void;
  /**
   * Attached again after a loss, before anything new is sent: `sameSid` when the node kept its
   * sid (a cluster's stable identity), so what is bound to the sid (channels) still holds.
   */
  onReattached?(sameSid: boolean): void;
}

/** for a connection used on its own: control traffic only */
const UNHEARD: ConnectionEvents = Object.freeze({ onEnvelope() {}, onDisconnected() {} });

export type ConnectionState = "idle" | "connecting" | "attached" | "reconnecting" | "closed";

/**
 * One node's session with its sentinel, over a NodeLink: attach, address binding,
 * heartbeats, signing on the way out, end-to-end verification on the way in, and
 * reattaching with backoff over a fresh link. Everything above it (RPC, channels) only
 * sees envelopes.
 */
export class FabricConnection {
  state: ConnectionState = "idle";
  systemId = "";
  sid = "";
  path = "";
  /** the sentinel's sid: envelopes under it are the sentinel's own control frames */
  sentinelSid = "";
  /** the attach URL of the sentinel this node is (or was last) attached to */
  sentinelUrl = "";
  /** ms epoch of the last attach that followed a lost link (0: never re-attached) */
  reattachedAt = 0;
  /**
   * Clear calls to a logical address may leave as one batch: the attached sentinel said it
   * places a batch only on a replica that takes them (and FAME_POOL_BATCH is not off).
   */
  poolBatches = false;

  private link: NodeLink | undefined;
  /** counts dials: a link that was replaced reports its close to nobody */
  private linkGeneration = 0;
  private signer: NodeSigner | undefined;
  private readonly bound = new Set<string>();
  private readonly control: ControlRequests;
  private readonly heartbeat: Heartbeat;
  private readonly backoff: ReconnectBackoff;
  private unsentPlan: AttachPlan | undefined;
  private readonly choice = new SentinelChoice();
  private readonly inbox: VerifiedInbox;
  private readonly attachWaiters = new Set<() => void>();
  private readonly signed: boolean;
  /** decode limits, resolved once for every frame from the sentinel */
  private readonly limits: Readonly<Limits>;
  /** what this node may send: its own frame limit, or the attached sentinel's if smaller */
  private sendLimits: Readonly<Limits>;
  /** sealed Data leaves as binary records: both ends said so at attach */
  private binaryOut = false;
  /** batched records leave with their list as bytes (the sentinel said it takes them) */
  private batchListOut = false;

  constructor(
    private readonly opts: FabricConnectionOptions,
    private readonly events: ConnectionEvents = UNHEARD,
    /** opens the link under the session; a WebSocket unless a test supplies another */
    private readonly dial: LinkDialer = dialWebSocket,
  ) {
    this.signed = opts.securityProfile !== "open";
    this.limits = resolveLimits({ maxFrameBytes: opts.maxFrameBytes ?? 1024 * 1024 });
    this.sendLimits = this.limits;
    this.control = new ControlRequests(opts.controlTimeoutMs ?? 10_000);
    this.backoff = new ReconnectBackoff(opts.reconnect);
    this.heartbeat = new Heartbeat(
      () => {
        if (this.state === "attached") this.send({ frame: { type: "Heartbeat" } });
      },
      () => {
        if (this.state !== "attached") return;
        opts.log.warn("sentinel silent: reconnecting");
        this.link?.terminate();
      },
    );
    this.inbox = new VerifiedInbox(
      opts.peerKeys,
      opts.log,
      {
        deliver: (env) => this.deliver(env),
        refuse: (env, code, outcome) => this.refuseUnverified(env, code, outcome),
        fetchKey: (kid) => this.fetchKey(kid),
      },
      opts.freshness === false ? undefined : new FreshnessWindow(opts.freshness),
    );
  }

  /**
   * The key this node signs with (and, as a replica, signs AFTs with). None in the open
   * profile: the node presents no key at attach, so a tag signed with it could never be
   * verified, and the sentinel would not pin the channel. Open replicas issue unsigned tags.
   */
  get nodeSigner(): NodeSigner | undefined {
    return this.signed ? this.signer : undefined;
  }

  /** physical address where replies to this node's requests come back */
  get replyAddress(): string {
    return `rpc@${this.path}`;
  }

  /** the largest frame this node sends: its own limit, or the sentinel's when that is lower */
  get maxFrameBytes(): number {
    return this.sendLimits.maxFrameBytes;
  }

  get boundAddresses(): string[] {
    return [...this.bound];
  }

  /**
   * First attach: fails if the fabric refuses us (no endless retry on a config error). A busy
   * answer (429 or 503 with Retry-After: a fleet starting at once, a storm of reattaches) is
   * waited out, as asked and with jitter, for up to `startWaitMs`; every other failure (no
   * sentinel listening, a refused credential or ticket) fails at once.
   */
  async start(): Promise<void> {
    if (this.state !== "idle") throw new ConnectionError("bad_state", `cannot start from ${this.state}`);
    this.state = "connecting";
    const deadline = Date.now() + (this.opts.startWaitMs ?? 0);
    for (;;) {
      try {
        await this.attachOnce();
        // the reattach loop starts from the shortest wait
        this.backoff.reset();
        return;
      } catch (err) {
        const waitMs = busyWaitMs(err);
        if (waitMs === undefined || this.state !== "connecting" || Date.now() + waitMs >= deadline) {
          // The caller gets no connection to close: a socket the sentinel never answered, or a
          // link attached before a bind was refused, would otherwise stay open (and heartbeat).
          await this.close();
          throw err;
        }
        this.opts.log.warn(
          { attempt: this.backoff.attempt + 1, waitMs, err: (err as Error).message },
          "the fabric is busy: waiting to attach",
        );
        this.link?.terminate();
        this.backoff.holdOff(waitMs);
        // close() cancels this wait
        await this.backoff.wait();
        if (this.state !== "connecting") throw new ConnectionError("closed", "connection closed");
      }
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
  send<F extends Frame>(
    init: Omit<EnvelopeInit<F>, "sid">,
    prepare?: (env: Envelope) => void,
    /** clear Data: its payload's JSON text, made already (encodeEnvelopeWithPayload) */
    payloadText?: string,
  ): Envelope<F> {
    const env = this.outgoing(init);
    prepare?.(env);
    // Sealed channel data goes unsigned: its AEAD tag already authenticates it end to end.
    if (this.signed && !isSealedData(env)) this.signer!.sign(env);
    this.write(env, false, payloadText);
    return env;
  }

  /**
   * Sends a Data envelope that `seal` turns into sealed channel data (SecureChannel.sealText,
   * whose ciphertext comes from base64urlEncode): encoded by encodeSealedEnvelope, which
   * validates all but that ciphertext. `seal` is told whether to keep the ciphertext as bytes
   * (the binary form, when the sentinel takes it).
   */
  sendSealed(
    init: Omit<EnvelopeInit<Frame>, "sid">,
    seal: (env: Envelope, binary: boolean) => void,
  ): Envelope {
    const env = this.outgoing(init);
    seal(env, this.binaryOut);
    this.write(env, true);
    return env;
  }

  /** Writes out what this turn has sent so far instead of waiting for the end of the turn. */
  flushWrites(): void {
    this.link?.flush();
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

  /** announce that this node is draining: the sentinel stops giving it new channels */
  drain(): void {
    if (this.state === "attached") this.send({ frame: { type: "Drain" } });
  }

  async close(): Promise<void> {
    if (this.state === "closed") return;
    this.state = "closed";
    this.heartbeat.stop();
    this.backoff.cancel();
    this.wakeAttachWaiters();
    this.control.rejectAll(new ConnectionError("closed", "connection closed"));
    await this.link?.close(1000, "node closing");
  }

  /**
   * Presents a renewed key (its certificate renewed while attached) to the sentinel and signs
   * with it from then on; the key signing until now stays valid at the sentinel and at peers
   * until its certificate expires, so nothing in flight is refused. Throws when the sentinel
   * refuses it, or when not attached (the next attach presents it anyway).
   */
  async presentKey(signer: NodeSigner): Promise<void> {
    const env = this.send({ frame: { type: "KeyUpdate", keys: [signer.jwk] } });
    const answer = await this.control.answerTo(env.id);
    if (answer.frame.type !== "DeliveryAck" || !answer.frame.ok) {
      const f = answer.frame as { code?: string; reason?: string };
      throw new ConnectionError(f.code ?? "key_update_refused", `key update refused: ${f.reason ?? f.code}`);
    }
    this.signer = signer;
  }

  /** asks the sentinel for a peer's key and vets it (strict-overlay: its certificate chain) */
  async fetchKey(kid: string): Promise<PeerKey | undefined> {
    let answer: Envelope;
    try {
      // send throws while the link is down: the key is as unknown as if nobody answered
      const env = this.send({ replyTo: this.replyAddress, frame: { type: "KeyRequest", kid } });
      answer = await this.control.answerTo(env.id);
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
    const plan = this.takeUnsentPlan() ?? (await this.opts.plan());
    this.signer = plan.signer;
    let dialed: { link: NodeLink; url: string };
    try {
      dialed = await this.dialFirst(this.choice.order(plan.url, plan.urls));
    } catch (err) {
      // the ticket never left: a sentinel still starting costs this node a dial, not an admission
      this.unsentPlan = plan;
      throw err;
    }
    const { link, url } = dialed;
    if (this.state === "closed") {
      link.terminate();
      throw new ConnectionError("closed", "connection closed");
    }
    this.link = link;
    this.sentinelUrl = url;
    const attach = attachRequest(plan, this.signed, this.takesBatches, this.opts.binaryRecords !== false);
    this.write(attach);
    let session: AttachedSession;
    try {
      session = sessionFrom(await this.control.answerTo(attach.id), this.limits);
    } catch (err) {
      // refused or silent (e.g. a sentinel cut off from the cluster state): try another next
      this.choice.markFailed(url);
      throw err;
    }
    const previousSid = this.sid;
    this.systemId = plan.systemId;
    this.path = session.path;
    this.sid = session.sid;
    this.sentinelSid = session.sentinelSid;
    this.sendLimits = session.sendLimits;
    this.binaryOut =
      this.opts.binaryRecords !== false && session.binaryRecords && link.sendBinary !== undefined;
    this.batchListOut = this.binaryOut && session.binaryBatch;
    this.poolBatches = this.opts.poolBatch !== false && session.poolBatches;
    if (this.opts.linkBatch !== false && session.linkBatch !== undefined)
      link.batchTo?.(Math.min(session.linkBatch, LINK_BATCH_SEND_ENTRIES));
    // before the state says attached: nothing may go out on what a changed sid invalidated
    if (previousSid !== "") {
      this.reattachedAt = Date.now();
      this.events.onReattached?.(previousSid === session.sid);
    }
    this.state = "attached";
    this.backoff.reset();
    this.choice.attached();
    this.heartbeat.start(session.heartbeatMs);
    for (const address of this.bound) await this.sendBind(address);
    this.opts.log.info(
      { systemId: this.systemId, path: this.path, sentinel: url, addresses: [...this.bound] },
      "attached to sentinel",
    );
    this.wakeAttachWaiters();
  }

  /**
   * Dials the URLs in turn until one answers: a dead sentinel of a cluster costs one refused
   * connect, not a backoff period; each URL is dialled at most once per attempt.
   */
  private async dialFirst(urls: readonly string[]): Promise<{ link: NodeLink; url: string }> {
    let failure: unknown;
    for (const url of urls) {
      checkDialable(url, this.opts.allowInsecureTransport === true);
      const generation = ++this.linkGeneration;
      try {
        const link = await this.dial(
          {
            url,
            trustBundlePem: this.opts.trustBundlePem,
            maxMessageBytes: (this.opts.maxFrameBytes ?? 1024 * 1024) * 2,
            handshakeTimeoutMs: this.opts.controlTimeoutMs ?? 10_000,
          },
          {
            onMessage: (data, binary) => (binary === true ? this.receiveRecord(data) : this.receive(data)),
            onError: (err) => this.opts.log.warn({ err: err.message }, "sentinel link error"),
            onClose: (code, reason) => {
              if (generation === this.linkGeneration) this.onLinkClosed(code, reason);
            },
          },
        );
        return { link, url };
      } catch (err) {
        if (!(err instanceof ConnectionError) || err.code !== "connect_failed") throw err;
        this.choice.markFailed(url);
        // the attempt counts as "nothing listening" (a short wait) only if every URL said so
        if (failure === undefined || nothingListening(failure)) failure = err;
        if (urls.length > 1) this.opts.log.warn({ sentinel: url, err: err.message }, "sentinel unreachable");
        if (this.state === "closed") break;
      }
    }
    throw failure ?? new ConnectionError("connect_failed", "no sentinel to dial");
  }

  private async sendBind(address: string): Promise<void> {
    const env = this.send({ frame: { type: "AddressBind", address } });
    const ack = await this.control.answerTo(env.id);
    if (ack.frame.type !== "AddressBindAck" || !ack.frame.ok) {
      const f = ack.frame as { code?: string; reason?: string };
      this.bound.delete(address);
      throw new ConnectionError(f.code ?? "bind_refused", `bind ${address} refused: ${f.reason ?? f.code}`);
    }
  }

  private onLinkClosed(code: number, reason: string): void {
    this.heartbeat.stop();
    this.control.rejectAll(new ConnectionError("disconnected", `sentinel link closed (${code} ${reason})`));
    if (this.state !== "attached") return;
    this.state = "reconnecting";
    this.choice.markFailed(this.sentinelUrl);
    this.opts.log.warn({ code, reason, sentinel: this.sentinelUrl }, "sentinel link lost");
    this.events.onDisconnected(`sentinel link closed (${code})`);
    void this.reconnectLoop();
  }

  /** the plan of a failed dial while its ticket has ≥ 5 s left (a single-use ticket, unused) */
  private takeUnsentPlan(): AttachPlan | undefined {
    const plan = this.unsentPlan;
    this.unsentPlan = undefined;
    if (plan?.ticketExpiresAt === undefined || plan.ticketExpiresAt - Date.now() < 5000) return undefined;
    return plan;
  }

  private async reconnectLoop(): Promise<void> {
    while (this.state === "reconnecting" && !this.backoff.exhausted) {
      await this.backoff.wait();
      if (this.state !== "reconnecting") return;
      try {
        await this.attachOnce();
        return;
      } catch (err) {
        this.opts.log.warn({ attempt: this.backoff.attempt, err: (err as Error).message }, "reattach failed");
        // the sentinel, Welcome or the CA saturated: their Retry-After, not the shorter backoff, sets the wait
        const waitMs = busyWaitMs(err);
        if (waitMs !== undefined) this.backoff.holdOff(waitMs);
        else if (nothingListening(err)) this.backoff.quickRetry();
        // Failed after the attach itself (e.g. a refused bind): this loop retries, the
        // close handler must not start a second one.
        if ((this.state as ConnectionState) === "attached") this.state = "reconnecting";
        this.link?.terminate();
      }
    }
    if (this.state === "reconnecting") {
      this.opts.log.error(
        { attempts: this.backoff.attempt },
        "giving up on the sentinel (FAME_RECONNECT_MAX_ATTEMPTS)",
      );
      this.state = "closed";
      this.wakeAttachWaiters();
      // Nothing keeps the process alive once the link is gone: without this it would end with
      // code 0, and a supervisor restarting on failure would never bring the node back.
      if (this.opts.failProcessOnGiveUp === true && !process.exitCode) process.exitCode = 1;
    }
  }

  private wakeAttachWaiters(): void {
    for (const w of [...this.attachWaiters]) w();
  }

  // ───────────────────────── wire ─────────────────────────

  /** a new envelope from this node; throws not_connected unless attached */
  private outgoing<F extends Frame>(init: Omit<EnvelopeInit<F>, "sid">): Envelope<F> {
    if (this.state !== "attached" || !this.link) {
      throw new ConnectionError("not_connected", `cannot send while ${this.state}`);
    }
    return makeEnvelope<F>({ ...init, sid: this.sid } as EnvelopeInit<F>);
  }

  private write(env: Envelope, sealedHere = false, payloadText?: string): void {
    if (this.opts.showEnvelopes) this.opts.log.info(describeEnvelope("send", env), "envelope");
    if (sealedHere && isBinaryRecord(env)) {
      this.link!.sendBinary!(encodeBinaryRecord(env, this.sendLimits, this.batchListOut));
      return;
    }
    this.link!.send(
      sealedHere
        ? encodeSealedEnvelope(env, this.sendLimits)
        : payloadText !== undefined
          ? encodeEnvelopeWithPayload(env, payloadText, this.sendLimits)
          : encodeEnvelope(env, this.sendLimits),
    );
  }

  /**
   * This node offers to take link batches: not when turned off, nor when its frame limit is
   * below the size a sentinel's batch may reach.
   */
  private get takesBatches(): boolean {
    return this.opts.linkBatch !== false && this.limits.maxFrameBytes >= LINK_BATCH_SEND_BYTES;
  }

  /** a binary message: a sealed record, taken only when this node announced them */
  private receiveRecord(data: Uint8Array | string): void {
    this.heartbeat.heard();
    let env: Envelope;
    try {
      if (this.opts.binaryRecords === false || typeof data === "string")
        throw new Error("binary record not asked for");
      env = decodeBinaryRecord(data, this.limits);
    } catch (err) {
      this.undecodable(err);
      return;
    }
    this.handle(env);
  }

  private receive(data: Uint8Array | string): void {
    this.heartbeat.heard();
    if (isLinkBatch(data)) {
      this.receiveBatch(data);
      return;
    }
    let env: Envelope;
    try {
      env = decodeEnvelope(data, this.limits);
    } catch (err) {
      this.undecodable(err);
      return;
    }
    this.handle(env);
  }

  /** a link batch: a malformed one is dropped whole, a bad entry alone */
  private receiveBatch(data: Uint8Array | string): void {
    let split: SplitBatch;
    try {
      if (!this.takesBatches) throw new Error("link batch not asked for");
      split = splitLinkBatch(data, this.limits);
    } catch (err) {
      this.undecodable(err);
      return;
    }
    for (const value of split.values) {
      let env: Envelope;
      try {
        env = checkLinkBatchEntry(value, this.limits);
      } catch (err) {
        this.undecodable(err);
        continue;
      }
      this.handle(env);
    }
  }

  private undecodable(err: unknown): void {
    this.opts.log.warn({ err: (err as Error).message }, "undecodable frame from sentinel dropped");
  }

  /** `sid` is the sentinel's this node is attached to (known from its attach answer) */
  isSentinel(sid: string): boolean {
    return this.sentinelSid.length > 0 && sid === this.sentinelSid;
  }

  private handle(env: Envelope): void {
    if (this.opts.showEnvelopes) this.opts.log.info(describeEnvelope("recv", env), "envelope");
    // Control frames from the sentinel answer a request by corrId. Only the sentinel's own:
    // another node's KeyAnnounce or nack naming our KeyRequest must not answer it.
    const t = env.frame.type;
    const fromSentinel = this.isSentinel(env.sid);
    if (t === "NodeAttachAck" || t === "AddressBindAck" || t === "KeyAnnounce") {
      if (fromSentinel || this.state !== "attached") this.control.settle(env);
      return;
    }
    if (t === "HeartbeatAck" || t === "Heartbeat") return;
    // A nack of one of our control requests (e.g. a KeyRequest) answers it.
    if (t === "DeliveryAck" && fromSentinel && this.control.settle(env)) return;
    if (fromSentinel || !this.signed) this.deliver(env);
    else if (isSealedData(env)) this.inbox.sealed(env);
    else this.inbox.signed(env);
  }

  /** signed envelopes refused as stale or replayed so far */
  get freshnessRefusals(): Readonly<{ stale: number; replay: number }> {
    return this.inbox.refused;
  }

  /** tells the sender its envelope failed verification (unless it was itself a nack) */
  private refuseUnverified(env: Envelope, code: ErrorCode, outcome: string): void {
    if (!env.replyTo || env.frame.type === "DeliveryAck") return;
    try {
      this.send({
        to: env.replyTo,
        corrId: env.corrId ?? env.id,
        frame: { type: "DeliveryAck", ok: false, refId: env.id, code, reason: outcome },
      });
    } catch {
      // not connected: nothing to tell
    }
  }

  private deliver(env: Envelope): void {
    try {
      this.events.onEnvelope(env);
    } catch (err) {
      this.opts.log.error({ err }, "envelope handler failed");
    }
  }
}
