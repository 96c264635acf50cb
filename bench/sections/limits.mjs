/**
 * Limit rows: what loopback WebSockets give on this machine with the fabric's
 * transport settings, with no fabric code in the path, and the cost of one relay hop.
 */
import { freePorts } from "../../packages/testkit/dist/index.js";
import { runForResult, startServer } from "../lib/procs.mjs";

export const LIMIT_RUNS = [
  { name: "seq", concurrency: 1 },
  { name: "inflight64", concurrency: 64 },
];

export async function runLimits(ctx) {
  const { pki, progress } = ctx;
  const [tlsPort, plainPort, relayPort] = await freePorts(3);
  const servers = [];
  const client = (url, useTls, pids) =>
    runForResult("ws-client", "limits/ws-client.mjs", {
      url,
      pids,
      ...(useTls ? { ca: pki.ca } : {}),
      bytes: 200,
      runs: LIMIT_RUNS,
      warmupMs: ctx.warmupMs,
      measureMs: ctx.measureMs,
    });
  try {
    const echoTlsServer = await startServer("echo-tls", "limits/ws-echo-server.mjs", {
      port: tlsPort,
      cert: pki.cert,
      key: pki.key,
    });
    servers.push(echoTlsServer);
    const echoPlainServer = await startServer("echo-plain", "limits/ws-echo-server.mjs", { port: plainPort });
    servers.push(echoPlainServer);
    const relayServer = await startServer("relay-tls", "limits/ws-relay.mjs", {
      port: relayPort,
      cert: pki.cert,
      key: pki.key,
      ca: pki.ca,
      upstream: `wss://127.0.0.1:${tlsPort}`,
    });
    servers.push(relayServer);
    progress.step("limits: ws echo over TLS (sequential, 64 in flight)");
    const echoTls = await client(`wss://127.0.0.1:${tlsPort}`, true, { echo: echoTlsServer.pid });
    progress.step("limits: ws echo, plain (sequential, 64 in flight)");
    const echoPlain = await client(`ws://127.0.0.1:${plainPort}`, false, { echo: echoPlainServer.pid });
    progress.step("limits: client -> relay -> echo over TLS (sequential, 64 in flight)");
    const relayTls = await client(`wss://127.0.0.1:${relayPort}`, true, {
      relay: relayServer.pid,
      echo: echoTlsServer.pid,
    });
    return {
      bytes: echoTls.bytes,
      echoTls: echoTls.results,
      echoPlain: echoPlain.results,
      relayTls: relayTls.results,
    };
  } finally {
    for (const s of servers.reverse()) await s.stop("SIGTERM", 3000);
  }
}

/**
 * A bare relay hop over TLS (client → relay → echo server), started for rows measured against
 * it elsewhere; `run(runs, bytes, windows)` measures it with the limit client, stop() ends both.
 * `envOf(role)` ("echo", "relay", "client"): extra environment of each process.
 */
export async function startRelayPair(pki, envOf = () => ({})) {
  const [echoPort, relayPort] = await freePorts(2);
  const echo = await startServer(
    "echo-tls",
    "limits/ws-echo-server.mjs",
    { port: echoPort, cert: pki.cert, key: pki.key },
    envOf("echo"),
  );
  let relay;
  try {
    relay = await startServer(
      "relay-tls",
      "limits/ws-relay.mjs",
      { port: relayPort, cert: pki.cert, key: pki.key, ca: pki.ca, upstream: `wss://127.0.0.1:${echoPort}` },
      envOf("relay"),
    );
  } catch (err) {
    await echo.stop("SIGTERM", 3000);
    throw err;
  }
  return {
    run: (runs, bytes, windows) =>
      runForResult(
        "ws-client",
        "limits/ws-client.mjs",
        {
          url: `wss://127.0.0.1:${relayPort}`,
          ca: pki.ca,
          bytes,
          runs,
          pids: { relay: relay.pid, echo: echo.pid },
          ...windows,
        },
        { env: envOf("client") },
      ),
    async stop() {
      await relay.stop("SIGTERM", 3000);
      await echo.stop("SIGTERM", 3000);
    },
  };
}
