import { readInt } from "@fame/config";

/**
 * What a connection may take before it has said what it wants, at every FAME service. Node's
 * own defaults leave a TLS handshake 120 s, and fastify turns node's request timeout off, so a
 * connection that completed TLS and then sent nothing, or half a request, was held for ever:
 * a slowloris that costs the attacker a socket and the service a TLS connection (~25-30 KiB)
 * and a file descriptor. A WebSocket upgrade or a streamed answer (the dashboard's event feed)
 * is not affected: the request deadline ends once the request is in.
 */
export interface ConnectionLimits {
  /** FAME_TLS_HANDSHAKE_TIMEOUT_MS: from the TCP accept to a finished TLS handshake */
  handshakeMs: number;
  /** FAME_HTTP_REQUEST_TIMEOUT_MS: from the connection (or the previous answer) to a whole request, headers and body */
  requestMs: number;
  /** FAME_HTTP_KEEP_ALIVE_TIMEOUT_MS: an idle keep-alive connection between requests */
  keepAliveMs: number;
  /** FAME_MAX_HANDSHAKES: connections accepted and not yet past their request, all remotes together */
  maxHandshakes: number;
  /** FAME_MAX_HANDSHAKES_PER_IP: the same from one remote IP (IPv6: per /64) */
  maxHandshakesPerIp: number;
}

/**
 * The caps are far above what a legitimate fleet has in its handshake at once: a storm of
 * reconnecting nodes is spread over seconds by their jittered backoff, and a refused one
 * backs off and comes again.
 */
export const DEFAULT_CONNECTION_LIMITS: Readonly<ConnectionLimits> = Object.freeze({
  handshakeMs: 10_000,
  requestMs: 10_000,
  keepAliveMs: 5_000,
  maxHandshakes: 512,
  maxHandshakesPerIp: 64,
});

const DEADLINE = { min: 100, max: 300_000 };
const CAP = { min: 1, max: 1_000_000 };

export function connectionLimitsFromEnv(env: NodeJS.ProcessEnv = process.env): ConnectionLimits {
  const read = (setting: string, fallback: number, range: { min: number; max: number }) =>
    readInt(env[setting], setting, { fallback, ...range });
  const d = DEFAULT_CONNECTION_LIMITS;
  return {
    handshakeMs: read("FAME_TLS_HANDSHAKE_TIMEOUT_MS", d.handshakeMs, DEADLINE),
    requestMs: read("FAME_HTTP_REQUEST_TIMEOUT_MS", d.requestMs, DEADLINE),
    keepAliveMs: read("FAME_HTTP_KEEP_ALIVE_TIMEOUT_MS", d.keepAliveMs, DEADLINE),
    maxHandshakes: read("FAME_MAX_HANDSHAKES", d.maxHandshakes, CAP),
    maxHandshakesPerIp: read("FAME_MAX_HANDSHAKES_PER_IP", d.maxHandshakesPerIp, CAP),
  };
}

/**
 * Node checks request deadlines on an interval (30 s by default), which would let a slow
 * connection live up to half a minute past its deadline; a tenth of the deadline, at most a
 * second, keeps the overshoot small for a few microseconds per connection per check.
 */
export function checkingIntervalMs(limits: Pick<ConnectionLimits, "requestMs">): number {
  return Math.max(25, Math.min(1000, Math.floor(limits.requestMs / 10)));
}
