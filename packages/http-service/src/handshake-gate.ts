import type { IncomingMessage, Server } from "node:http";
import type { Socket } from "node:net";
import { type Logger, LogThrottle } from "@fame/logger";
import { ConnectionTally } from "./connection-tally.js";
import { remoteKey } from "./remote-key.js";

export interface HandshakeGateOptions {
  /** connections accepted and not yet past their request, all remotes together */
  maxTotal: number;
  /** … from one remote IP (IPv6: /64) */
  maxPerIp: number;
}

export type HandshakeVerdict = { ok: true } | { ok: false; key: string; reason: string };

/**
 * Connections a service accepted that have not made their HTTP request yet: the TLS
 * handshake, then the request line and headers. Counted from the TCP accept, before any TLS
 * work, so a host that opens connections and holds them there (a slowloris; at the sentinel,
 * before the attach gate, which starts at the upgrade request) is held to a few sockets,
 * closed at once beyond the cap. The deadlines (FAME_TLS_HANDSHAKE_TIMEOUT_MS,
 * FAME_HTTP_REQUEST_TIMEOUT_MS) bound how long each may hold its place.
 */
export class HandshakeGate {
  private readonly open = new ConnectionTally();
  private readonly maxTotal: number;
  private readonly maxPerIp: number;

  constructor(opts: HandshakeGateOptions) {
    if (!Number.isInteger(opts.maxTotal) || opts.maxTotal < 1)
      throw new RangeError("maxTotal must be a positive integer");
    if (!Number.isInteger(opts.maxPerIp) || opts.maxPerIp < 1)
      throw new RangeError("maxPerIp must be a positive integer");
    this.maxTotal = opts.maxTotal;
    this.maxPerIp = opts.maxPerIp;
  }

  /** connections in their handshake now */
  get total(): number {
    return this.open.total;
  }

  from(address: string | undefined): number {
    return this.open.from(remoteKey(address));
  }

  /** a connection was accepted: counted if it may go on, refused (not counted) otherwise */
  admit(address: string | undefined, port: number | undefined): HandshakeVerdict {
    const key = remoteKey(address);
    const fromKey = this.open.from(key);
    if (fromKey >= this.maxPerIp)
      return {
        ok: false,
        key,
        reason: `${fromKey} connections from ${key} are in their handshake (limit ${this.maxPerIp})`,
      };
    if (this.open.total >= this.maxTotal)
      return {
        ok: false,
        key,
        reason: `${this.open.total} connections are in their handshake (limit ${this.maxTotal})`,
      };
    this.open.addKeyed(connectionId(address, port), key);
    return { ok: true };
  }

  /** the connection made its request, or closed; false if it was not counted (any more) */
  release(address: string | undefined, port: number | undefined): boolean {
    return this.open.remove(connectionId(address, port));
  }
}

/** a live TCP connection to one listening port is told apart by its remote address and port */
function connectionId(address: string | undefined, port: number | undefined): string {
  return `${address ?? "unknown"}|${port ?? 0}`;
}

/** what the status pages show of a service's handshakes */
export interface HandshakeCounters {
  /** connections in their handshake now */
  readonly handshaking: number;
  /** closed at accept, beyond a cap */
  readonly handshakesRefused: number;
  /** TLS handshakes dropped at FAME_TLS_HANDSHAKE_TIMEOUT_MS */
  readonly handshakeTimeouts: number;
}

/**
 * Puts `gate` in front of `server`, once its routes and upgrade handler are in place: its
 * listeners run ahead of the TLS server's and fastify's own, so a refused connection costs no
 * TLS state, and a request that reads the counters does not count itself.
 */
export function guardHandshakes(server: Server, gate: HandshakeGate, log: Logger): HandshakeCounters {
  let refused = 0;
  let timeouts = 0;
  const throttle = new LogThrottle();
  // One function for every socket, not a closure each: it stays on a long-lived socket (an
  // attached node's). The address and port are still readable after the close: node caches
  // the peer name, read here at the accept.
  function releaseOnClose(this: Socket): void {
    gate.release(this.remoteAddress, this.remotePort);
  }
  const releaseOnRequest = (req: IncomingMessage): void => {
    gate.release(req.socket.remoteAddress, req.socket.remotePort);
  };
  server.prependListener("connection", (socket: Socket) => {
    const verdict = gate.admit(socket.remoteAddress, socket.remotePort);
    if (verdict.ok) {
      socket.on("close", releaseOnClose);
      return;
    }
    refused++;
    if (throttle.hit())
      log.warn(
        { remote: verdict.key, reason: verdict.reason, total: throttle.total },
        "connection refused before its handshake",
      );
    socket.destroy();
  });
  server.prependListener("request", releaseOnRequest);
  // Only where the service takes upgrades: with no listener, node answers an upgrade request
  // as a plain request (fastify's 404); a listener of ours alone would leave it unanswered.
  if (server.listenerCount("upgrade") > 0) server.prependListener("upgrade", releaseOnRequest);
  server.on("tlsClientError", (err: NodeJS.ErrnoException) => {
    if (err.code === "ERR_TLS_HANDSHAKE_TIMEOUT") timeouts++;
  });
  return {
    get handshaking() {
      return gate.total;
    },
    get handshakesRefused() {
      return refused;
    },
    get handshakeTimeouts() {
      return timeouts;
    },
  };
}
