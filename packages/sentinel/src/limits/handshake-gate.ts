import { PendingAttaches } from "./pending-attaches.js";
import { remoteKey } from "./remote-key.js";

export interface HandshakeGateOptions {
  /** connections accepted and not yet past their request, all remotes together */
  maxTotal: number;
  /** … from one remote IP (IPv6: /64) */
  maxPerIp: number;
}

export type HandshakeVerdict = { ok: true } | { ok: false; key: string; reason: string };

/**
 * Connections the sentinel accepted that have not made their HTTP request yet: the TLS
 * handshake, then the request line and headers. Counted from the TCP accept, before any TLS
 * work, so a host that opens connections and holds them there (a slowloris before the
 * upgrade, which the attach gate cannot see: it starts at the upgrade request) is held to a
 * few sockets, closed at once beyond the cap. The deadlines (FAME_TLS_HANDSHAKE_TIMEOUT_MS,
 * FAME_HTTP_REQUEST_TIMEOUT_MS) bound how long each may hold its place.
 */
export class HandshakeGate {
  /** the same bookkeeping as attaching connections: one entry per connection, counts per key */
  private readonly open = new PendingAttaches();
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
    this.open.add(connectionId(address, port), `${address ?? "unknown"}:${port ?? 0}`);
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
