import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "@fame/logger";
import type { SentinelRegistry, StateBus } from "@fame/state";
import { WebSocket, WebSocketServer } from "ws";
import { LogThrottle } from "../limits/log-throttle.js";
import { LinkTokenOffers, SENTINEL_ID } from "./link-token-offers.js";
import { BusSentinelLinks, type SentinelLinks } from "./sentinel-links.js";

/** where a sentinel accepts its peers' direct links, on the same listener as node attach */
export const CLUSTER_LINK_PATH = "/fame/v1/cluster/link";
/** the core NATS subject a sentinel hears link tokens on: `fame.sentinel-link.<id>` */
export const LINK_TOKEN_SUBJECT_PREFIX = "fame.sentinel-link.";
const PEER_HEADER = "x-fame-sentinel";
/** a dial that failed is not retried sooner than this (doubling up to MAX_REDIAL_MS) */
const MIN_REDIAL_MS = 250;
const MAX_REDIAL_MS = 5_000;
/** pings on an outbound link; one unanswered by the next ping ends it */
const PING_MS = 2_000;
/**
 * Bytes an outbound link may hold unsent. Past it the peer is not keeping up: the link is
 * dropped (traffic falls back to NATS, which applies its own slow-consumer limits) rather than
 * buffering without bound.
 */
export const MAX_LINK_BUFFERED_BYTES = 64 * 1024 * 1024;

const REFUSALS = {
  unknown_token: "unknown link token",
  too_many_waiting: "too many link upgrades waiting",
  pushed_out: "a newer upgrade under the same sentinel id took the place",
} as const;

export interface DirectLinksOptions {
  sentinelId: string;
  /** the cluster's NATS connection: link tokens travel on it, and every message while a link is down */
  bus: StateBus;
  /** peers' attach URLs (the link URL is the same origin) */
  registry: Pick<SentinelRegistry, "get" | "onChange">;
  /** trust for the peers' TLS certificates (FAME_CA_CERTS); undefined: the system's */
  trustBundlePem: string | undefined;
  /** largest message a link takes (a forward header and one frame) */
  maxMessageBytes: number;
  log: Logger;
}

/** Counters of the direct links (status page `cluster.links`). */
export interface DirectLinkCounters {
  /** messages sent on a direct link */
  directOut: number;
  /** messages sent over NATS because no link to the peer was open */
  busOut: number;
  /** messages received on direct links */
  directIn: number;
  /** outbound links opened, and link upgrades refused (bad or missing token) */
  opened: number;
  refused: number;
}

interface Outbound {
  ws: WebSocket;
  open: boolean;
  /** a ping is out and its pong not back */
  awaitingPong: boolean;
}

/**
 * Sentinel-to-sentinel links as direct TLS WebSockets, with NATS subjects as the fallback.
 *
 * Why: a call between nodes on two sentinels crosses NATS twice each way, and at one call at a
 * time the hop through nats-server (a process to wake and ~230 µs of its CPU per call) is a
 * third of what separates it from a one-sentinel call (docs/scaling.md). A direct link goes
 * from sentinel to sentinel.
 *
 * Authentication without a new secret: NATS is the sentinels' private, authenticated network.
 * A sentinel that wants a link to a peer publishes a fresh 256-bit token to the peer's link
 * subject, then dials the peer's attach origin at CLUSTER_LINK_PATH presenting it. The peer
 * accepts only a token it heard on NATS for that sentinel id (single use, 10 s, compared in
 * constant time), so a link is as trustworthy as a NATS message. Each sentinel sends on the link
 * it dialled and receives on the ones it accepted; the receiver knows which peer a link is from
 * and refuses a forward header naming another (`src` must be the peer).
 *
 * Messages leave over NATS while no link is open (starting, a peer's restart, a dropped link),
 * so nothing waits for a link. A link is dialled as soon as the peer is in the registry, so the
 * switch from NATS to the link happens before traffic, not during it.
 */
export class DirectSentinelLinks implements SentinelLinks {
  readonly counters: DirectLinkCounters = { directOut: 0, busOut: 0, directIn: 0, opened: 0, refused: 0 };
  private readonly bus: BusSentinelLinks;
  private readonly out = new Map<string, Outbound>();
  private readonly redial = new Map<string, { at: number; delayMs: number }>();
  /** the link URL last dialled per peer: a peer that comes back elsewhere is dialled at once */
  private readonly dialledUrl = new Map<string, string>();
  private readonly tokens: LinkTokenOffers;
  /** accepted links, and whether a ping to the peer is out unanswered */
  private readonly inbound = new Map<WebSocket, { peer: string; awaitingPong: boolean }>();
  /** a flood of guessed upgrades must not become a flood of log lines */
  private readonly refusalLog = new LogThrottle();
  private readonly wss: WebSocketServer;
  private onMessage: ((data: Uint8Array, from?: string) => void) | undefined;
  private unsubscribeTokens: (() => void) | undefined;
  private unwatchRegistry: (() => void) | undefined;
  private pinger: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly opts: DirectLinksOptions) {
    this.bus = new BusSentinelLinks(opts.bus, opts.sentinelId);
    this.tokens = new LinkTokenOffers(opts.sentinelId);
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: opts.maxMessageBytes,
      perMessageDeflate: false,
    });
  }

  listen(onMessage: (data: Uint8Array, from?: string) => void): void {
    this.onMessage = onMessage;
    this.bus.listen(onMessage);
    this.unsubscribeTokens = this.opts.bus.subscribe(
      LINK_TOKEN_SUBJECT_PREFIX + this.opts.sentinelId,
      (data) => this.tokens.offer(data),
    );
    this.unwatchRegistry = this.opts.registry.onChange((peer, record) => {
      if (peer === this.opts.sentinelId) return;
      if (record === undefined) {
        this.drop(peer, "left the registry");
        this.dialledUrl.delete(peer);
        return;
      }
      const last = this.dialledUrl.get(peer);
      if (last !== undefined && last !== linkUrlOf(record.publicUrl)) {
        // restarted at another address: the back-off learnt from the old one does not apply
        if (this.out.get(peer)?.open !== true) this.drop(peer, "moved");
        this.redial.delete(peer);
      }
      if (!this.out.has(peer)) this.dial(peer);
    });
    this.pinger = setInterval(() => this.ping(), PING_MS);
    this.pinger.unref();
  }

  publish(sentinelId: string, data: Uint8Array): void {
    const link = this.out.get(sentinelId);
    if (link?.open === true && link.ws.readyState === WebSocket.OPEN) {
      if (link.ws.bufferedAmount + data.length <= MAX_LINK_BUFFERED_BYTES) {
        link.ws.send(data, { binary: true });
        this.counters.directOut++;
        return;
      }
      this.drop(sentinelId, "peer not keeping up");
    }
    this.counters.busOut++;
    this.bus.publish(sentinelId, data);
    if (link === undefined) this.dial(sentinelId);
  }

  /** an upgrade at CLUSTER_LINK_PATH: a peer's link, if it shows a token heard for it on NATS */
  acceptUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const peer = req.headers[PEER_HEADER];
    const auth = req.headers.authorization;
    const token = typeof auth === "string" && auth.startsWith("Bearer ") ? auth.slice(7) : undefined;
    if (this.closed || typeof peer !== "string" || !SENTINEL_ID.test(peer) || token === undefined) {
      this.refuse(socket, req, "missing sentinel id or token");
      return;
    }
    const registered = peer !== this.opts.sentinelId && this.opts.registry.get(peer) !== undefined;
    void this.tokens.claim(peer, token, registered).then((verdict) => {
      if (verdict !== "taken") {
        this.refuse(socket, req, REFUSALS[verdict], peer);
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onInbound(ws, peer));
    });
  }

  close(): void {
    this.closed = true;
    this.bus.close();
    this.unsubscribeTokens?.();
    this.unwatchRegistry?.();
    if (this.pinger !== undefined) clearInterval(this.pinger);
    for (const peer of [...this.out.keys()]) this.drop(peer, "closing");
    for (const ws of this.inbound.keys()) ws.terminate();
    this.inbound.clear();
    this.tokens.close();
    this.wss.close();
  }

  describe(): Record<string, unknown> {
    const linked = [...this.out].filter(([, l]) => l.open).map(([peer]) => peer);
    return { transport: "direct", linked, inbound: this.inbound.size, ...this.counters };
  }

  // ───────────── dialling ─────────────

  private dial(peer: string): void {
    if (this.closed || peer === this.opts.sentinelId || this.out.has(peer)) return;
    const wait = this.redial.get(peer);
    if (wait !== undefined && Date.now() < wait.at) return;
    const record = this.opts.registry.get(peer);
    if (record === undefined) return;
    const url = linkUrlOf(record.publicUrl);
    if (url === undefined) return;
    this.dialledUrl.set(peer, url);
    const token = randomBytes(32).toString("base64url");
    this.opts.bus.publish(
      LINK_TOKEN_SUBJECT_PREFIX + peer,
      Buffer.from(JSON.stringify({ src: this.opts.sentinelId, token })),
    );
    const ws = new WebSocket(url, {
      headers: { authorization: `Bearer ${token}`, [PEER_HEADER]: this.opts.sentinelId },
      perMessageDeflate: false,
      maxPayload: this.opts.maxMessageBytes,
      handshakeTimeout: 5_000,
      ...(this.opts.trustBundlePem === undefined ? {} : { ca: this.opts.trustBundlePem }),
    });
    const link: Outbound = { ws, open: false, awaitingPong: false };
    this.out.set(peer, link);
    ws.on("open", () => {
      link.open = true;
      this.redial.delete(peer);
      this.counters.opened++;
      this.opts.log.info({ peer }, "direct link to sentinel open");
    });
    ws.on("pong", () => {
      link.awaitingPong = false;
    });
    // the dialled side only sends; anything it receives is ignored
    ws.on("error", (err) => {
      // the first failure in a row is worth a warning (a wrong trust bundle fails every dial)
      if (!link.open && !this.redial.has(peer))
        this.opts.log.warn(
          { peer, url, err: err.message },
          "cannot open a direct link to sentinel; using NATS",
        );
      else this.opts.log.debug({ peer, err: err.message }, "direct link error");
    });
    ws.on("close", () => {
      if (this.out.get(peer) !== link) return;
      this.out.delete(peer);
      if (link.open)
        this.opts.log.warn({ peer }, "direct link to sentinel closed; using NATS until it is back");
      this.backOff(peer, link.open);
      // dial again while the peer is live; publish() also dials on its next message
      if (!this.closed && this.opts.registry.get(peer) !== undefined) {
        const delay = Math.max(0, (this.redial.get(peer)?.at ?? 0) - Date.now());
        setTimeout(() => this.dial(peer), delay).unref();
      }
    });
  }

  private backOff(peer: string, wasOpen: boolean): void {
    const before = this.redial.get(peer)?.delayMs;
    const delayMs = wasOpen || before === undefined ? MIN_REDIAL_MS : Math.min(MAX_REDIAL_MS, before * 2);
    this.redial.set(peer, { at: Date.now() + delayMs, delayMs });
  }

  private drop(peer: string, why: string): void {
    const link = this.out.get(peer);
    if (link === undefined) return;
    this.out.delete(peer);
    this.opts.log.debug({ peer, why }, "direct link dropped");
    link.ws.terminate();
    this.backOff(peer, false);
  }

  /** both ends ping: a peer gone without a FIN (a partition, a frozen host) is noticed either way */
  private ping(): void {
    for (const [peer, link] of this.out) {
      if (!link.open) continue;
      if (link.awaitingPong) {
        this.drop(peer, "no pong");
        continue;
      }
      link.awaitingPong = true;
      link.ws.ping();
    }
    for (const [ws, state] of this.inbound) {
      if (state.awaitingPong) {
        this.opts.log.debug({ peer: state.peer }, "direct link from sentinel silent; closed");
        this.inbound.delete(ws);
        ws.terminate();
        continue;
      }
      state.awaitingPong = true;
      ws.ping();
    }
  }

  // ───────────── accepting ─────────────

  private refuse(socket: Duplex, req: IncomingMessage, reason: string, peer?: string): void {
    this.counters.refused++;
    if (this.refusalLog.hit())
      this.opts.log.warn(
        { remote: req.socket.remoteAddress, peer, reason, total: this.refusalLog.total },
        "sentinel link refused",
      );
    socket.end("HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
  }

  private onInbound(ws: WebSocket, peer: string): void {
    const state = { peer, awaitingPong: false };
    this.inbound.set(ws, state);
    ws.on("pong", () => {
      state.awaitingPong = false;
    });
    this.opts.log.info({ peer }, "direct link from sentinel accepted");
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (!isBinary) return;
      this.counters.directIn++;
      this.onMessage?.(data, peer);
    });
    ws.on("error", (err) => this.opts.log.debug({ peer, err: err.message }, "direct link error"));
    ws.on("close", () => this.inbound.delete(ws));
  }
}

/** the link URL on the same origin as a peer's attach URL; undefined if it is not a ws(s) URL */
export function linkUrlOf(publicUrl: string): string | undefined {
  let u: URL;
  try {
    u = new URL(publicUrl);
  } catch {
    return undefined;
  }
  if (u.protocol !== "wss:" && u.protocol !== "ws:") return undefined;
  return `${u.protocol}//${u.host}${CLUSTER_LINK_PATH}`;
}
