import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { requestRaw } from "@fame/http-service/client";
import { stopAll } from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Attacker } from "./support/attacker.js";
import { LegitTraffic } from "./support/legit-traffic.js";
import { type LoneSentinel, startLoneSentinel } from "./support/lone-sentinel.js";

/**
 * Before the upgrade: connections that open and then hold their place in the TLS handshake or
 * the HTTP request (a slowloris), which the attach gate cannot see since it starts at the
 * upgrade request. Against a real sentinel process; the attackers dial from other loopback
 * addresses (127.0.0.2…) while the legitimate client on 127.0.0.1 keeps calling.
 */
const LIMITS = {
  FAME_MAX_HANDSHAKES_PER_IP: "16",
  FAME_MAX_HANDSHAKES: "40",
  // long enough that a loaded box still checks the held connections before they end
  FAME_TLS_HANDSHAKE_TIMEOUT_MS: "5000",
  FAME_HTTP_REQUEST_TIMEOUT_MS: "5000",
};

let sentinel: LoneSentinel;
let legit: LegitTraffic;
const sockets: Socket[] = [];

interface Held {
  socket: Socket;
  closed: Promise<void>;
  isClosed: () => boolean;
  /** what the server wrote before it closed (TLS sockets only) */
  text: () => string;
}

function track(socket: Socket): Held {
  sockets.push(socket);
  let done = false;
  let text = "";
  socket.on("error", () => {}); // a reset is one of the expected outcomes
  socket.on("data", (d: Buffer) => {
    text += d.toString("latin1");
  });
  const closed = new Promise<void>((resolve) =>
    socket.once("close", () => {
      done = true;
      resolve();
    }),
  );
  return { socket, closed, isClosed: () => done, text: () => text };
}

/** a TCP connection to the sentinel's port that never starts TLS */
function silentTcp(localAddress: string): Held {
  const url = new URL(sentinel.url);
  return track(netConnect({ host: url.hostname, port: Number(url.port), localAddress }));
}

/** a finished TLS handshake, then `send` (possibly nothing) and silence */
async function tlsThen(localAddress: string, send: string): Promise<Held> {
  const url = new URL(sentinel.url);
  // node's TLS options do not type localAddress: dial the TCP socket first, then start TLS on it
  const raw = netConnect({ host: url.hostname, port: Number(url.port), localAddress });
  const socket = tlsConnect({ socket: raw, host: url.hostname, ca: sentinel.trustBundle });
  const held = track(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once("secureConnect", resolve);
    socket.once("error", reject);
  });
  if (send !== "") socket.write(send);
  return held;
}

beforeAll(async () => {
  sentinel = await startLoneSentinel({ env: LIMITS });
  await sentinel.startReplica("r1");
  legit = await LegitTraffic.connect(sentinel.nodeEnv);
  for (let i = 0; i < 10; i++) await legit.callOnce();
  await legit.stop();
}, 120_000);

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await legit?.close();
  await sentinel?.stop();
  await stopAll();
});

describe("connections held before the upgrade", () => {
  it("holds one IP to FAME_MAX_HANDSHAKES_PER_IP silent connections, closes the rest at once and the held ones at the TLS deadline", async () => {
    const before = (await sentinel.status()).attachGate;
    await legit.during(async () => {
      const held = Array.from({ length: 40 }, () => silentTcp("127.0.0.2"));
      await expect
        .poll(async () => (await sentinel.status()).attachGate.handshakesRefused - before.handshakesRefused, {
          timeout: 10_000,
          interval: 100,
        })
        .toBe(24);
      // the refused ones are gone while the sixteen held ones still are not
      await expect
        .poll(() => held.filter((h) => h.isClosed()).length, { timeout: 2000, interval: 20 })
        .toBe(24);
      expect((await sentinel.status()).attachGate.handshaking).toBe(16);
      // another host is not held back by this one's cap
      const other = await Attacker.tryConnect({
        url: sentinel.attachUrl,
        ca: sentinel.trustBundle,
        localAddress: "127.0.0.3",
      });
      expect(other.ok).toBe(true);
      if (other.ok) await other.node.close();
      // the held ones end at FAME_TLS_HANDSHAKE_TIMEOUT_MS
      await Promise.all(held.map((h) => h.closed));
    });
    const after = (await sentinel.status()).attachGate;
    expect(after.handshakeTimeouts - before.handshakeTimeouts).toBe(16);
    // the same counts for an operator's alerts, on /metrics
    const metrics = await requestRaw(`${sentinel.url}/metrics`, { ca: sentinel.trustBundle });
    const text = Buffer.from(metrics.body).toString("utf8");
    expect(text).toContain(
      `fame_sentinel_connections_refused_total{stage="handshake"} ${after.handshakesRefused}\n`,
    );
    expect(text).toContain(`fame_sentinel_handshake_timeouts_total ${after.handshakeTimeouts}\n`);
    await expect.poll(async () => (await sentinel.status()).attachGate.handshaking).toBe(0);
  });

  it("answers 408 and closes a connection that finishes TLS, then sends nothing or half a request", async () => {
    await legit.during(async () => {
      const silent = await tlsThen("127.0.0.4", "");
      const halfHeaders = await tlsThen("127.0.0.4", "GET /health HTTP/1.1\r\nHost: localhost\r\n");
      const halfBody = await tlsThen(
        "127.0.0.4",
        "POST /fame/v1/nodes/x/drain HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
      );
      expect((await sentinel.status()).attachGate.handshaking).toBeGreaterThanOrEqual(2);
      await Promise.all([silent.closed, halfHeaders.closed, halfBody.closed]);
      for (const h of [silent, halfHeaders, halfBody]) expect(h.text()).toMatch(/^HTTP\/1\.1 408 /);
    });
    await expect.poll(async () => (await sentinel.status()).attachGate.handshaking).toBe(0);
  });

  it("caps connections in their handshake across all remotes at FAME_MAX_HANDSHAKES; attached nodes keep calling", async () => {
    const before = (await sentinel.status()).attachGate;
    await legit.during(async () => {
      // 3 × 14 = 42 silent connections against a global cap of 40 (each IP under its own 16)
      const held = ["127.0.0.5", "127.0.0.6", "127.0.0.7"].flatMap((ip) =>
        Array.from({ length: 14 }, () => silentTcp(ip)),
      );
      // the status request itself needs a place: it is refused while the cap is full, so count from the sockets
      await expect
        .poll(() => held.filter((h) => h.isClosed()).length, { timeout: 10_000, interval: 20 })
        .toBe(2);
      await Promise.all(held.map((h) => h.closed));
    });
    const after = (await sentinel.status()).attachGate;
    expect(after.handshakesRefused - before.handshakesRefused).toBeGreaterThanOrEqual(2);
    expect(after.handshakeTimeouts - before.handshakeTimeouts).toBe(40);
    await expect.poll(async () => (await sentinel.status()).attachGate.handshaking).toBe(0);
  });
});
