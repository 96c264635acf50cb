import { type CryptoBackend, defaultBackend, isCryptoError, type X25519KeyPair } from "@fame/crypto";
import { unsignedAft } from "@fame/identity";
import type { Logger } from "@fame/logger";
import {
  base64urlDecode,
  base64urlEncode,
  type Envelope,
  type ErrorCode,
  newId,
  SESSION_ID_META,
  type SecureAccept,
  type SecureOpen,
} from "@fame/protocol";
import type { FabricConnection } from "../connection/fabric-connection.js";
import { idsAtDebug } from "../node/log-ids.js";
import type { CallerIdentity } from "../rpc/call-context.js";
import { CallerSlots } from "../rpc/caller-slots.js";
import { SecureChannel } from "./secure-channel.js";

/** What channels need of the node's session with its sentinel. */
export type ChannelTransport = Pick<FabricConnection, "send" | "sid" | "replyAddress" | "nodeSigner">;

export interface ChannelSettings {
  /** re-key (open a fresh channel) after this many sealed messages */
  maxMessages: number;
  /** … or after this age */
  maxAgeMs: number;
  /** how long a channel handshake may take */
  openTimeoutMs: number;
  /**
   * channels a replica keeps at most (FAME_MAX_ACCEPTED_CHANNELS); beyond it one idle for idleMs
   * makes room, or the open is refused
   */
  maxAccepted: number;
  /** a replica's channel unused for this long may be evicted to make room (FAME_CHANNEL_IDLE_SEC) */
  idleMs: number;
  /** channels one client node (sid) may hold at a replica (FAME_MAX_CHANNELS_PER_PEER) */
  maxPerPeer: number;
  /**
   * channels the client nodes of one principal (the OAuth2 client their certificates name)
   * may hold at a replica together (FAME_MAX_CHANNELS_PER_PRINCIPAL)
   */
  maxPerPrincipal: number;
  /** AFT lifetime the replica grants */
  aftTtlSec: number;
}

export const DEFAULT_CHANNEL_SETTINGS: ChannelSettings = {
  maxMessages: 100_000,
  maxAgeMs: 3_600_000,
  openTimeoutMs: 10_000,
  maxAccepted: 10_000,
  idleMs: 300_000,
  maxPerPeer: 64,
  maxPerPrincipal: 7_500,
  aftTtlSec: 3600,
};

export class ChannelOpenError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ChannelOpenError";
  }
}

interface PendingOpen {
  address: string;
  /** where the channel goes in `current`: the address, or address + session id */
  key: string;
  eph: X25519KeyPair;
  resolve(ch: SecureChannel): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/** channels looked at per open when making room: a bound on the work one SecureOpen can cause */
const EVICTION_SCAN = 64;

/** A verified sender's identity, from its key's certificate; undefined when unknown (open profile). */
export type IdentifyPeer = (sid: string) => CallerIdentity | undefined;

/** Is `logical` served under one of the certificate's logicals (exact or *.wildcard)? */
export type LogicalCheck = (replicaKid: string | undefined, address: string) => boolean;

export interface ChannelMetrics {
  opened: number;
  accepted: number;
  openFailures: number;
  rekeys: number;
  invalidated: number;
}

/**
 * Both roles of channel encryption. As a client: one live channel per
 * destination address, opened on first use (concurrent callers share the
 * handshake), re-keyed by count or age, dropped when the fabric says the
 * replica no longer knows it. As a replica: accepts SecureOpen, answers with
 * its ephemeral key and an AFT that lets the sentinel pin the channel here.
 */
export class ChannelManager {
  readonly metrics: ChannelMetrics = { opened: 0, accepted: 0, openFailures: 0, rekeys: 0, invalidated: 0 };
  /** every channel this node holds a key for, by cid (both roles) */
  private readonly byCid = new Map<string, SecureChannel>();
  private readonly current = new Map<string, SecureChannel>();
  /** the `current` key of each client channel (a session's channel is not the address's) */
  private readonly keyByCid = new Map<string, string>();
  private readonly opening = new Map<string, Promise<SecureChannel>>();
  private readonly pending = new Map<string, PendingOpen>();
  /** replica side: channels accepted per client sid, so one client cannot take the whole table */
  private readonly acceptedPerPeer = new CallerSlots();
  /**
   * replica side: channels accepted per principal, so several processes of one credential
   * cannot take the whole table either (each within its per-client limit)
   */
  private readonly acceptedPerPrincipal = new CallerSlots();
  /** replica side: channels accepted and not yet forgotten */
  private accepted = 0;
  private readonly backend: CryptoBackend;
  private refusing = false;

  constructor(
    private readonly connection: ChannelTransport,
    private readonly settings: ChannelSettings,
    private readonly log: Logger,
    private readonly servesAddress: LogicalCheck,
    backend?: CryptoBackend,
    private readonly identify?: IdentifyPeer,
  ) {
    this.backend = backend ?? defaultBackend();
  }

  /** the node is draining: channels it is asked to accept are refused (`draining`) */
  drain(): void {
    this.refusing = true;
  }

  get draining(): boolean {
    return this.refusing;
  }

  get size(): number {
    return this.byCid.size;
  }

  byId(cid: string): SecureChannel | undefined {
    return this.byCid.get(cid);
  }

  /**
   * The channel to use for a new call to `address`, opening one if needed. Calls of a session
   * (`sessionId`) get a channel of their own, opened with the session id so the sentinel
   * places it on the session's replica.
   */
  forAddress(address: string, sessionId?: string): Promise<SecureChannel> {
    const ready = this.readyFor(address, sessionId);
    if (ready !== undefined) return Promise.resolve(ready);
    const key = channelKey(address, sessionId);
    const ch = this.current.get(key);
    if (ch && !ch.retiring) {
      // open but used up or too old (readyFor said no): a fresh one takes over
      this.metrics.rekeys++;
      this.retire(ch, "re-key");
    }
    let p = this.opening.get(key);
    if (!p) {
      p = this.open(address, key, sessionId).finally(() => this.opening.delete(key));
      this.opening.set(key, p);
    }
    return p;
  }

  /** The open channel a new call to `address` would use right now, if there is one (no re-key due). */
  readyFor(address: string, sessionId?: string): SecureChannel | undefined {
    const ch = this.current.get(channelKey(address, sessionId));
    if (ch === undefined || ch.retiring) return undefined;
    if (ch.sealed >= this.settings.maxMessages || Date.now() - ch.createdAt >= this.settings.maxAgeMs)
      return undefined;
    return ch;
  }

  /** The session ended: its channel finishes in-flight calls, then closes. */
  endSession(address: string, sessionId: string): void {
    const ch = this.current.get(channelKey(address, sessionId));
    if (ch) this.retire(ch, "session ended");
  }

  /** the replica forgot the channel (or died): new calls open a fresh one */
  invalidate(cid: string): void {
    const ch = this.byCid.get(cid);
    if (!ch) return;
    this.metrics.invalidated++;
    this.forget(ch);
  }

  /** a nack for a SecureOpen (its corrId is the cid) */
  failOpen(cid: string, code: string, reason: string): boolean {
    const p = this.takePending(cid);
    if (!p) return false;
    this.metrics.openFailures++;
    p.reject(new ChannelOpenError(code, `channel to ${p.address} refused: ${reason}`));
    return true;
  }

  onSecureAccept(env: Envelope<SecureAccept>): void {
    const frame = env.frame;
    const p = this.takePending(frame.cid);
    if (!p) {
      this.log.warn(
        { ...idsAtDebug(this.log, { cid: frame.cid }), from: env.sid },
        "SecureAccept for no pending channel ignored",
      );
      return;
    }
    if (!frame.ok || !frame.ephPub) {
      this.metrics.openFailures++;
      p.reject(
        new ChannelOpenError(
          frame.code ?? "channel_unknown",
          `replica refused the channel: ${frame.reason ?? ""}`,
        ),
      );
      return;
    }
    // End to end: the accept is signed (checked by the connection); its signer
    // must be entitled to serve this address, or a stranger could answer.
    if (!this.servesAddress(env.sec?.sig?.kid, p.address)) {
      this.metrics.openFailures++;
      p.reject(
        new ChannelOpenError("not_authorized", `the node answering for ${p.address} may not serve it`),
      );
      return;
    }
    try {
      const replicaEph = base64urlDecode(frame.ephPub);
      const ch = new SecureChannel(
        frame.cid,
        "client",
        env.sid,
        p.address,
        {
          backend: this.backend,
          sharedSecret: this.backend.x25519SharedSecret(p.eph.secretKey, replicaEph),
          clientEphPub: p.eph.publicKey,
          replicaEphPub: replicaEph,
          clientSid: this.connection.sid,
          replicaSid: env.sid,
          now: Date.now(),
        },
        frame.aft,
      );
      this.byCid.set(ch.cid, ch);
      this.current.set(p.key, ch);
      this.keyByCid.set(ch.cid, p.key);
      this.metrics.opened++;
      p.resolve(ch);
    } catch (err) {
      this.metrics.openFailures++;
      p.reject(new ChannelOpenError("decrypt_failed", `channel handshake failed: ${(err as Error).message}`));
    }
  }

  /** replica side: a client opens a channel to an address this node serves */
  async onSecureOpen(env: Envelope<SecureOpen>): Promise<void> {
    const frame = env.frame;
    const replyTo = env.replyTo;
    if (!replyTo) return;
    const refuse = (code: ErrorCode, reason: string) =>
      this.connection.send({
        to: replyTo,
        corrId: env.corrId ?? frame.cid,
        frame: { type: "SecureAccept", cid: frame.cid, ok: false, code, reason },
      });
    if (this.refusing) return void refuse("draining", "replica is draining");
    if (this.byCid.has(frame.cid)) return void refuse("channel_conflict", "channel id already in use");
    // The SecureOpen's signature was verified with the sender's certified key: who it is, is
    // known now, and stays the channel's (looked up later, a key that expired meanwhile would
    // leave its calls with no principal to count them under: audit round 14).
    const caller = this.identify?.(env.sid);
    const principal = caller?.principal;
    const room = this.roomFor(env.sid, principal);
    if (room !== undefined) return void refuse("too_many_channels", room);
    let eph: X25519KeyPair;
    let ch: SecureChannel;
    try {
      eph = this.backend.x25519Keygen();
      const clientEph = base64urlDecode(frame.ephPub);
      ch = new SecureChannel(frame.cid, "replica", env.sid, replyTo, {
        backend: this.backend,
        sharedSecret: this.backend.x25519SharedSecret(eph.secretKey, clientEph),
        clientEphPub: clientEph,
        replicaEphPub: eph.publicKey,
        clientSid: env.sid,
        replicaSid: this.connection.sid,
        now: Date.now(),
      });
    } catch (err) {
      this.log.warn(
        { ...idsAtDebug(this.log, { cid: frame.cid }), err: (err as Error).message },
        "SecureOpen refused",
      );
      return void refuse("decrypt_failed", "bad ephemeral key");
    }
    const claims = { sid: this.connection.sid, cid: frame.cid, clientSid: env.sid };
    const signer = this.connection.nodeSigner;
    const aft = signer
      ? await signer.aftSigner.issue(claims, this.settings.aftTtlSec)
      : unsignedAftFor(claims, this.settings.aftTtlSec);
    // Signing the AFT yields: an open of the same cid that arrived meanwhile must not
    // replace the channel just keyed (its client would hold keys we no longer have).
    if (this.byCid.has(frame.cid)) return void refuse("channel_conflict", "channel id already in use");
    // again: other opens may have taken the room while the AFT was signed
    const stillRoom = this.roomFor(env.sid, principal);
    if (stillRoom !== undefined) return void refuse("too_many_channels", stillRoom);
    this.byCid.set(ch.cid, ch);
    this.accepted++;
    this.acceptedPerPeer.take(env.sid);
    ch.caller = caller;
    if (principal !== undefined) {
      ch.countedFor = principal;
      this.acceptedPerPrincipal.take(principal);
    }
    this.metrics.accepted++;
    this.connection.send({
      to: replyTo,
      corrId: env.corrId ?? frame.cid,
      frame: { type: "SecureAccept", cid: frame.cid, ok: true, ephPub: base64urlEncode(eph.publicKey), aft },
    });
  }

  onSecureClose(env: Envelope): void {
    if (env.frame.type !== "SecureClose") return;
    const ch = this.byCid.get(env.frame.cid);
    if (ch && ch.peerSid === env.sid) this.forget(ch);
  }

  /** maps a channel failure to the code the sender hears */
  static errorCode(err: unknown): ErrorCode {
    return isCryptoError(err) && err.code === "replay" ? "replay" : "decrypt_failed";
  }

  /**
   * The sentinel link dropped. Opens whose answer can no longer come fail now rather than at
   * their timeout. Channels wait for the reattach (connectionRestored): their keys are bound
   * to this node's sid, which a cluster keeps across sentinels.
   */
  connectionLost(): void {
    for (const [cid, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(cid);
      this.metrics.openFailures++;
      p.reject(new ChannelOpenError("replica_unavailable", `channel to ${p.address}: sentinel link lost`));
    }
  }

  /**
   * Attached again. With the same sid the channels hold: the replica still has their keys, and
   * the pin is in a cluster's pin store or, after a lone sentinel restarted, restored from the
   * AFT each client channel echoes until its replica answers (`repinning`). Calls continue with
   * no new handshake. A new sid ends every channel bound to the old one: forgetting them now
   * spares the next call a wasted channel_unknown round trip.
   */
  connectionRestored(sameSid: boolean): void {
    if (sameSid) {
      for (const ch of this.byCid.values()) if (ch.role === "client" && ch.aft) ch.repinning = true;
      return;
    }
    for (const [cid, ch] of [...this.byCid]) {
      if (ch.role === "client") this.invalidate(cid);
      else this.forget(ch);
    }
  }

  close(): void {
    for (const [cid, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new ChannelOpenError("closed", "node closing"));
      this.pending.delete(cid);
    }
  }

  private open(address: string, key: string, sessionId: string | undefined): Promise<SecureChannel> {
    const eph = this.backend.x25519Keygen();
    const cid = newId();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(cid);
        this.metrics.openFailures++;
        reject(
          new ChannelOpenError(
            "timeout",
            `no SecureAccept from ${address} in ${this.settings.openTimeoutMs} ms`,
          ),
        );
      }, this.settings.openTimeoutMs);
      timer.unref();
      this.pending.set(cid, { address, key, eph, resolve, reject, timer });
      try {
        this.connection.send({
          to: address,
          replyTo: this.connection.replyAddress,
          corrId: cid,
          frame: { type: "SecureOpen", cid, ephPub: base64urlEncode(eph.publicKey), alg: "CHACHA20P1305" },
          ...(sessionId === undefined ? {} : { meta: { [SESSION_ID_META]: sessionId } }),
        });
      } catch (err) {
        this.pending.delete(cid);
        clearTimeout(timer);
        reject(new ChannelOpenError("replica_unavailable", (err as Error).message));
      }
    });
  }

  private retire(ch: SecureChannel, why: string): void {
    ch.retiring = true;
    const key = this.keyByCid.get(ch.cid) ?? ch.address;
    if (this.current.get(key) === ch) this.current.delete(key);
    // In-flight calls on it finish first; then the replica may forget it.
    const t = setTimeout(() => {
      this.forget(ch);
      try {
        this.connection.send({ to: ch.address, frame: { type: "SecureClose", cid: ch.cid, reason: why } });
      } catch {
        // not connected: the replica's copy expires on its own
      }
    }, 30_000);
    t.unref();
  }

  /** drops every trace of a channel: by cid, and as its destination's current channel */
  private forget(ch: SecureChannel): void {
    if (this.byCid.get(ch.cid) === ch) {
      this.byCid.delete(ch.cid);
      if (ch.role === "replica") this.releaseAccepted(ch);
    }
    const key = this.keyByCid.get(ch.cid) ?? ch.address;
    this.keyByCid.delete(ch.cid);
    if (this.current.get(key) === ch) this.current.delete(key);
  }

  private takePending(cid: string): PendingOpen | undefined {
    const p = this.pending.get(cid);
    if (!p) return undefined;
    this.pending.delete(cid);
    clearTimeout(p.timer);
    return p;
  }

  private releaseAccepted(ch: SecureChannel): void {
    this.accepted--;
    this.acceptedPerPeer.give(ch.peerSid);
    if (ch.countedFor !== undefined) this.acceptedPerPrincipal.give(ch.countedFor);
  }

  /**
   * Undefined when a channel from `peerSid` (of `principal`) may be accepted now (making room
   * by evicting a channel idle for idleMs if the table is full); otherwise why not. A busy
   * channel is never evicted: with none idle the new open is refused instead.
   */
  private roomFor(peerSid: string, principal: string | undefined): string | undefined {
    const held = this.acceptedPerPeer.heldBy(peerSid);
    if (held >= this.settings.maxPerPeer)
      return `this client holds ${held} channels at this replica (the per-client limit)`;
    if (principal !== undefined) {
      const ofPrincipal = this.acceptedPerPrincipal.heldBy(principal);
      if (ofPrincipal >= this.settings.maxPerPrincipal)
        return `clients of this principal hold ${ofPrincipal} channels at this replica (the per-principal limit)`;
    }
    if (this.accepted < this.settings.maxAccepted) return undefined;
    return this.evictIdle() ? undefined : "every channel of this replica is in use";
  }

  /**
   * Evicts one replica channel unused for idleMs; false if none of the first EVICTION_SCAN
   * looked at is idle. Busy ones looked at move to the back, so the next scan starts elsewhere.
   */
  private evictIdle(): boolean {
    const idleBefore = Date.now() - this.settings.idleMs;
    let looked = 0;
    for (const [cid, ch] of this.byCid) {
      if (looked++ >= EVICTION_SCAN) break;
      if (ch.role === "replica" && ch.lastUsedAt < idleBefore) {
        this.log.info({ peer: ch.peerSid, idleMs: Date.now() - ch.lastUsedAt }, "idle channel evicted");
        this.forget(ch);
        return true;
      }
      this.byCid.delete(cid);
      this.byCid.set(cid, ch);
    }
    return false;
  }
}

function channelKey(address: string, sessionId: string | undefined): string {
  return sessionId === undefined ? address : `${address}\u0000${sessionId}`;
}

function unsignedAftFor(c: { sid: string; cid: string; clientSid: string }, ttlSec: number): string {
  const iat = Math.floor(Date.now() / 1000);
  return unsignedAft({
    sid: c.sid,
    cid: c.cid,
    client_sid: c.clientSid,
    scp: "channel",
    iat,
    exp: iat + ttlSec,
  });
}
