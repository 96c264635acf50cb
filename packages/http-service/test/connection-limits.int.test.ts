import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { type RunningService, startHttpService } from "@fame/http-service/server";
import { serverTlsFromEnv } from "@fame/http-service/tls";
import { createLogger } from "@fame/logger";
import { createTestPki, type TestPki } from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * Every FAME service (sentinel, Welcome, CA, OAuth2) takes its limits before a request from
 * startHttpService: deadlines for a TLS handshake, a request's headers and body and an idle
 * keep-alive, and caps on connections in their handshake. Short deadlines here, so each case
 * ends in a few hundred milliseconds; a streamed answer and anything after the request are not
 * theirs to cut.
 */
const LIMITS = {
  handshakeMs: 400,
  requestMs: 400,
  keepAliveMs: 400,
  maxHandshakes: 12,
  maxHandshakesPerIp: 4,
};
/** the stream outlives every deadline above several times over */
const STREAM_CHUNKS = 6;
const STREAM_EVERY_MS = 200;

let pki: TestPki;
let svc: RunningService;
const sockets: Socket[] = [];

beforeAll(async () => {
  pki = await createTestPki("fame-timeouts");
  const tls = serverTlsFromEnv(pki.env);
  if (tls === null) throw new Error("no TLS material in the test PKI");
  svc = await startHttpService({
    name: "timeouts-svc",
    port: 0,
    tls,
    connectionLimits: LIMITS,
    logger: createLogger({ name: "timeouts-svc", level: "silent" }),
    register: (app) => {
      app.post("/echo", async (req) => req.body);
      // like the dashboard's event feed: one request, an answer that keeps coming
      app.get("/stream", (_req, reply) => {
        reply.raw.writeHead(200, { "content-type": "text/plain" });
        let sent = 0;
        const timer = setInterval(() => {
          reply.raw.write(`chunk ${++sent}\n`);
          if (sent === STREAM_CHUNKS) {
            clearInterval(timer);
            reply.raw.end();
          }
        }, STREAM_EVERY_MS);
        return reply;
      });
    },
  });
}, 30_000);

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await svc?.close();
  pki?.remove();
});

interface Outcome {
  /** what the server wrote before it closed */
  text: string;
}

/** resolves when the server closes the socket */
function untilClosed(socket: Socket): Promise<Outcome> {
  sockets.push(socket);
  let text = "";
  socket.on("data", (d: Buffer) => {
    text += d.toString("latin1");
  });
  socket.on("error", () => {});
  return new Promise((resolve) => socket.once("close", () => resolve({ text })));
}

function tlsSocket(localAddress = "127.0.0.1"): Promise<Socket> {
  // node's TLS options do not type localAddress: dial the TCP socket first, then start TLS on it
  const raw = netConnect({ host: "127.0.0.1", port: svc.port, localAddress });
  const socket = tlsConnect({ socket: raw, host: "127.0.0.1", ca: pki.trustBundle, servername: "localhost" });
  return new Promise((resolve, reject) => {
    socket.once("secureConnect", () => resolve(socket));
    socket.once("error", reject);
  });
}

/** everything the server wrote to one request, up to its close */
async function answerTo(request: string, localAddress?: string): Promise<string> {
  const socket = await tlsSocket(localAddress);
  const outcome = untilClosed(socket);
  socket.write(request);
  return (await outcome).text;
}

describe("deadlines before a request", () => {
  it("closes a TCP connection that never starts TLS", async () => {
    const before = svc.handshakes.handshakeTimeouts;
    const socket = netConnect({ host: "127.0.0.1", port: svc.port, localAddress: "127.0.0.2" });
    const outcome = await untilClosed(socket);
    expect(outcome.text).toBe("");
    await expect
      .poll(() => svc.handshakes.handshakeTimeouts, { timeout: 5000, interval: 10 })
      .toBe(before + 1);
  });

  it("answers 408 and closes a TLS connection that sends nothing, half the headers or half the body", async () => {
    const silent = await tlsSocket("127.0.0.3");
    const headers = await tlsSocket("127.0.0.3");
    const body = await tlsSocket("127.0.0.3");
    const outcomes = Promise.all([silent, headers, body].map(untilClosed));
    headers.write("GET /health HTTP/1.1\r\nHost: localhost\r\n");
    body.write(
      "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n{",
    );
    for (const o of await outcomes) expect(o.text).toMatch(/^HTTP\/1\.1 408 /);
  });

  it("closes an idle keep-alive connection after its answer", async () => {
    const text = await answerTo("GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n");
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    expect(text).toContain('"status":"ok"');
    // one answer and nothing else: the close came from the keep-alive deadline, not an error
    expect(text.match(/HTTP\/1\.1 /g)).toHaveLength(1);
  });

  it("lets an answer stream on well past every deadline once the request is in", async () => {
    const text = await answerTo("GET /stream HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    for (let i = 1; i <= STREAM_CHUNKS; i++) expect(text).toContain(`chunk ${i}\n`);
  });

  it("closes connections beyond FAME_MAX_HANDSHAKES_PER_IP at once, leaving other hosts their room", async () => {
    const before = svc.handshakes.handshakesRefused;
    const sockets = Array.from({ length: 6 }, () =>
      netConnect({ host: "127.0.0.1", port: svc.port, localAddress: "127.0.0.4" }),
    );
    const closed: boolean[] = sockets.map(() => false);
    const outcomes = sockets.map((socket, i) => untilClosed(socket).then(() => (closed[i] = true)));
    // two refused and gone while the four held ones wait for their deadline
    await expect.poll(() => closed.filter(Boolean).length, { timeout: 5000, interval: 10 }).toBe(2);
    expect(svc.handshakes.handshakesRefused).toBe(before + 2);
    expect(svc.handshakes.handshaking).toBe(4);
    // another host is served meanwhile, and its request does not count as a handshake any more
    const other = await answerTo(
      "GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
      "127.0.0.5",
    );
    expect(other).toMatch(/^HTTP\/1\.1 200 /);
    await Promise.all(outcomes);
    // the server's side of each close may come a moment after the client's
    await expect.poll(() => svc.handshakes.handshaking, { timeout: 5000, interval: 10 }).toBe(0);
  });
});
