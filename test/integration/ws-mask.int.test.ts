import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { TLSSocket } from "node:tls";
import { createLogger } from "@fame/logger";
import { decodeEnvelope, encodeEnvelope, makeEnvelope, sidFromPath } from "@fame/protocol";
import { FabricConnection, NodeSigner, PeerKeyDirectory } from "@fame/sdk";
import { createTestPki, type TestPki } from "@fame/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RawData, WebSocketServer } from "ws";

/**
 * Masking keys on the wire: a FabricConnection masks its frames with an all-zero key over
 * wss:// (inside TLS masking protects nothing and costs the sentinel an XOR per byte) and
 * keeps ws's random keys over plain ws://, the dev-only transport where masking still
 * matters. A stand-in sentinel on loopback reads the client's bytes straight off the
 * upgraded socket, beside a real RFC 6455 server (ws) that must accept them.
 */

const WS_PATH = "/fame/v1/attach/ws/downstream";
/** the NodeAttach, then this many Heartbeats, then the close frame */
const HEARTBEATS = 4;
const OPCODE_TEXT = 0x1;
const OPCODE_CLOSE = 0x8;

let pki: TestPki;

beforeAll(async () => {
  pki = await createTestPki("fame-ws-mask");
});

afterAll(() => {
  pki?.remove();
});

/** one client frame as it crossed the socket: payload still masked */
interface WireFrame {
  fin: boolean;
  opcode: number;
  masked: boolean;
  maskKey: Buffer;
  payload: Buffer;
}

/** Splits raw client bytes into RFC 6455 frames; an incomplete tail is left out. */
function parseFrames(bytes: Buffer, maxFrames: number): WireFrame[] {
  const frames: WireFrame[] = [];
  let at = 0;
  while (frames.length < maxFrames && at + 2 <= bytes.length) {
    const b0 = bytes[at]!;
    const b1 = bytes[at + 1]!;
    let len = b1 & 0x7f;
    let header = 2;
    if (len === 126) {
      if (at + 4 > bytes.length) break;
      len = bytes.readUInt16BE(at + 2);
      header = 4;
    } else if (len === 127) {
      if (at + 10 > bytes.length) break;
      len = Number(bytes.readBigUInt64BE(at + 2));
      header = 10;
    }
    const masked = (b1 & 0x80) !== 0;
    const keyLen = masked ? 4 : 0;
    const end = at + header + keyLen + len;
    if (end > bytes.length) break;
    frames.push({
      fin: (b0 & 0x80) !== 0,
      opcode: b0 & 0x0f,
      masked,
      maskKey: Buffer.from(bytes.subarray(at + header, at + header + keyLen)),
      payload: Buffer.from(bytes.subarray(at + header + keyLen, end)),
    });
    at = end;
  }
  return frames;
}

function unmask(payload: Buffer, key: Buffer): Buffer {
  const out = Buffer.alloc(payload.length);
  for (let i = 0; i < payload.length; i++) out[i] = payload[i]! ^ key[i % 4]!;
  return out;
}

interface StandInSentinel {
  url: string;
  /** every byte the client wrote after the handshake, read off the (decrypted) socket */
  raw(): Buffer;
  /** text messages the ws server decoded from those bytes */
  readonly messages: string[];
  /** whether the upgraded socket was a TLS socket */
  readonly encrypted: boolean[];
  close(): Promise<void>;
}

/**
 * Just enough sentinel to get a node attached: answers its NodeAttach with an ok
 * NodeAttachAck and reads everything else without answering.
 */
async function startStandIn(tls: { cert: string; key: string } | undefined): Promise<StandInSentinel> {
  const chunks: Buffer[] = [];
  const messages: string[] = [];
  const encrypted: boolean[] = [];
  const sockets = new Set<Duplex>();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const sentinelSid = sidFromPath("/ws_mask_sentinel");
  const server: Server = tls ? createHttpsServer(tls) : createHttpServer();

  server.on("request", (_req, res) => {
    res.writeHead(426).end();
  });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    encrypted.push(socket instanceof TLSSocket);
    if (req.url !== WS_PATH) {
      socket.destroy();
      return;
    }
    // Tapped before ws takes the socket: both listeners see every chunk (a non-empty head
    // is pushed back onto the socket by ws and so reaches this listener too). Copied, as ws
    // unmasks the very buffer it is handed in place.
    socket.on("data", (chunk: Buffer) => chunks.push(Buffer.from(chunk)));
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on("message", (data: RawData, isBinary: boolean) => {
        const text = isBinary ? "" : (data as Buffer).toString("utf8");
        messages.push(text);
        let env: ReturnType<typeof decodeEnvelope>;
        try {
          env = decodeEnvelope(text);
        } catch {
          return; // the assertions on `messages` report what arrived
        }
        if (env.frame.type !== "NodeAttach") return;
        ws.send(
          encodeEnvelope(
            makeEnvelope({
              sid: sentinelSid,
              corrId: env.id,
              // a heartbeat far beyond the test: only the frames the test sends cross the link
              frame: {
                type: "NodeAttachAck",
                ok: true,
                assignedPath: "/ws_mask/node_1",
                heartbeatMs: 600_000,
              },
            }),
          ),
        );
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls ? "wss" : "ws"}://127.0.0.1:${port}${WS_PATH}`,
    raw: () => Buffer.concat(chunks),
    messages,
    encrypted,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function connectionTo(url: string, insecure: boolean): FabricConnection {
  return new FabricConnection({
    securityProfile: "overlay",
    plan: async () => ({
      url,
      systemId: "ws_mask_node",
      instanceId: "ws_mask_instance",
      logicals: [],
      signer: NodeSigner.generate(),
    }),
    trustBundlePem: pki.trustBundle,
    peerKeys: new PeerKeyDirectory(async (_jwk, sid) => ({ sid, notAfter: Date.now() + 60_000 })),
    log: createLogger({ name: "ws-mask-test", level: "silent" }),
    controlTimeoutMs: 5_000,
    reconnect: { maxAttempts: 0 },
    allowInsecureTransport: insecure,
  });
}

/**
 * Attaches to `standIn`, sends HEARTBEATS heartbeats, closes, and returns the client's
 * frames as they crossed the socket alongside the messages ws decoded from them.
 */
async function captureFrames(standIn: StandInSentinel, insecure: boolean) {
  const connection = connectionTo(standIn.url, insecure);
  try {
    await connection.start();
    expect(connection.state).toBe("attached");
    for (let i = 0; i < HEARTBEATS; i++) connection.send({ frame: { type: "Heartbeat" } });
    await expect.poll(() => standIn.messages.length, { timeout: 5_000 }).toBe(1 + HEARTBEATS);
  } finally {
    // the close handshake puts one more client frame (a masked Close) on the wire
    await connection.close();
  }
  await expect
    .poll(() => parseFrames(standIn.raw(), 16).length, { timeout: 5_000 })
    .toBeGreaterThanOrEqual(2 + HEARTBEATS);
  return { frames: parseFrames(standIn.raw(), 16), messages: [...standIn.messages] };
}

describe("WebSocket masking keys of a FabricConnection", () => {
  it("over wss:// every frame has the MASK bit set and a 0x00000000 masking key", async () => {
    const standIn = await startStandIn({
      cert: readFileSync(pki.env.FAME_TLS_CERT, "utf8"),
      key: readFileSync(pki.env.FAME_TLS_KEY, "utf8"),
    });
    try {
      const { frames, messages } = await captureFrames(standIn, false);
      expect(standIn.encrypted).toEqual([true]);

      const text = frames.filter((f) => f.opcode === OPCODE_TEXT);
      expect(text).toHaveLength(1 + HEARTBEATS);
      expect(frames.some((f) => f.opcode === OPCODE_CLOSE)).toBe(true);
      for (const f of frames) {
        expect(f.masked).toBe(true);
        expect(f.maskKey.equals(Buffer.alloc(4))).toBe(true);
      }
      // A zero key leaves the payload as sent: the wire bytes are the envelopes themselves,
      // and they are exactly what the RFC 6455 server accepted and decoded.
      expect(text.map((f) => f.payload.toString("utf8"))).toEqual(messages);
      expect(decodeEnvelope(text[0]!.payload).frame.type).toBe("NodeAttach");
      expect(text.slice(1).map((f) => decodeEnvelope(f.payload).frame.type)).toEqual(
        Array(HEARTBEATS).fill("Heartbeat"),
      );
    } finally {
      await standIn.close();
    }
  });

  it("over dev-only ws:// frames keep ws's random masking keys", async () => {
    const standIn = await startStandIn(undefined);
    try {
      const { frames, messages } = await captureFrames(standIn, true);
      expect(standIn.encrypted).toEqual([false]);

      const text = frames.filter((f) => f.opcode === OPCODE_TEXT);
      expect(text).toHaveLength(1 + HEARTBEATS);
      for (const f of frames) {
        expect(f.masked).toBe(true);
        expect(f.maskKey).toHaveLength(4);
      }
      // Random 32-bit keys: all of these being zero would be a 2^-(32·n) accident.
      expect(frames.some((f) => !f.maskKey.equals(Buffer.alloc(4)))).toBe(true);
      expect(text.map((f) => unmask(f.payload, f.maskKey).toString("utf8"))).toEqual(messages);
      expect(decodeEnvelope(unmask(text[0]!.payload, text[0]!.maskKey)).frame.type).toBe("NodeAttach");
    } finally {
      await standIn.close();
    }
  });
});
