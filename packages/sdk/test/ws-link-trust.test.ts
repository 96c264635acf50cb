/**
 * The node's dial to its sentinel trusts exactly its trust bundle, with the TLS context built
 * once per bundle (trustContext) instead of once per dial: real TLS WebSocket servers with
 * certificates from two separate dev PKIs.
 */
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { trustContext } from "@fame/http-service/client";
import { generateDevPki } from "@fame/identity/dev";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { ConnectionError } from "../src/connection/connection-error.js";
import type { LinkHandlers } from "../src/connection/node-link.js";
import { dialWebSocket } from "../src/connection/ws-link.js";

const dirs: string[] = [];
let server: Server;
let wss: WebSocketServer;
let url: string;
let ours: string;
let foreign: string;

async function pki(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "fame-ws-trust-"));
  dirs.push(dir);
  await generateDevPki({ dir });
  return dir;
}

beforeAll(async () => {
  const a = await pki();
  const b = await pki();
  ours = readFileSync(join(a, "trust-bundle.pem"), "utf8");
  foreign = readFileSync(join(b, "trust-bundle.pem"), "utf8");
  server = createServer({
    cert: readFileSync(join(a, "server.pem")),
    key: readFileSync(join(a, "server.key")),
  });
  wss = new WebSocketServer({ server });
  wss.on("connection", (ws) => ws.on("message", (m) => ws.send(m.toString())));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  url = `wss://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}, 30_000);

afterAll(async () => {
  for (const c of wss.clients) c.terminate();
  wss.close();
  await new Promise<void>((r) => server.close(() => r()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const quiet: LinkHandlers = { onMessage() {}, onClose() {}, onError() {} };
const target = (trustBundlePem: string) => ({
  url,
  trustBundlePem,
  maxMessageBytes: 1 << 20,
  handshakeTimeoutMs: 5000,
});

describe("dialWebSocket trust", () => {
  it("builds one TLS context per trust bundle", () => {
    expect(trustContext(ours)).toBe(trustContext(ours));
    expect(trustContext(foreign)).not.toBe(trustContext(ours));
  });

  it("opens to a sentinel its bundle vouches for, refuses one it does not, and still opens after", async () => {
    const first = await dialWebSocket(target(ours), quiet);
    await first.close(1000, "done");
    const refused = await dialWebSocket(target(foreign), quiet).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(ConnectionError);
    expect(String((refused as Error).message)).toMatch(/certificate|self.signed|issuer/i);
    const again = await dialWebSocket(target(ours), quiet);
    await again.close(1000, "done");
  });
});
