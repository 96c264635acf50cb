import { readInt } from "@fame/config";

/**
 * How long a connection may take before it has said what it wants. Node's own defaults leave
 * a TLS handshake 120 s, and fastify turns node's request timeout off, so a connection that
 * completes TLS and then sends nothing, or half a request, was held for ever: a slowloris that
 * costs the attacker a socket and the server a TLS connection (~25-30 KiB) and a descriptor.
 * A WebSocket upgrade or a streamed response (the dashboard's event feed) is not affected: the
 * request timeout ends once the request is in.
 */
export interface HttpTimeouts {
  /** FAME_TLS_HANDSHAKE_TIMEOUT_MS: from TCP accept to a finished TLS handshake */
  handshakeMs: number;
  /** FAME_HTTP_REQUEST_TIMEOUT_MS: from the connection (or the previous response) to a whole request, headers and body */
  requestMs: number;
  /** FAME_HTTP_KEEP_ALIVE_TIMEOUT_MS: an idle keep-alive connection between requests */
  keepAliveMs: number;
}

export const DEFAULT_HTTP_TIMEOUTS: Readonly<HttpTimeouts> = Object.freeze({
  handshakeMs: 10_000,
  requestMs: 10_000,
  keepAliveMs: 5_000,
});

const RANGE = { min: 100, max: 300_000 };

export function httpTimeoutsFromEnv(env: NodeJS.ProcessEnv = process.env): HttpTimeouts {
  return {
    handshakeMs: readInt(env["FAME_TLS_HANDSHAKE_TIMEOUT_MS"], "FAME_TLS_HANDSHAKE_TIMEOUT_MS", {
      fallback: DEFAULT_HTTP_TIMEOUTS.handshakeMs,
      ...RANGE,
    }),
    requestMs: readInt(env["FAME_HTTP_REQUEST_TIMEOUT_MS"], "FAME_HTTP_REQUEST_TIMEOUT_MS", {
      fallback: DEFAULT_HTTP_TIMEOUTS.requestMs,
      ...RANGE,
    }),
    keepAliveMs: readInt(env["FAME_HTTP_KEEP_ALIVE_TIMEOUT_MS"], "FAME_HTTP_KEEP_ALIVE_TIMEOUT_MS", {
      fallback: DEFAULT_HTTP_TIMEOUTS.keepAliveMs,
      ...RANGE,
    }),
  };
}

/**
 * Node checks request deadlines on an interval (30 s by default), which would let a slow
 * connection live up to half a minute past its deadline; a tenth of the timeout, at most a
 * second, keeps the overshoot small for a few microseconds per connection per check.
 */
export function checkingIntervalMs(t: HttpTimeouts): number {
  return Math.max(25, Math.min(1000, Math.floor(t.requestMs / 10)));
}
