/**
 * Limit row: a WebSocket echo server with the sentinel's transport settings
 * (node https + ws, TLS >= 1.2, no compression), or plain ws when no cert is given.
 * Args: { port, cert?, key? }. Runs until SIGTERM.
 */
import { readFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { WebSocketServer } from "ws";
import { emitReady, readArgs } from "../lib/child-io.mjs";

const args = readArgs();
const server = args.cert
  ? createHttpsServer({
      cert: readFileSync(args.cert, "utf8"),
      key: readFileSync(args.key, "utf8"),
      minVersion: "TLSv1.2",
    })
  : createHttpServer();
const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 2 * 1024 * 1024 });
wss.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on("error", () => ws.terminate());
});
server.listen(args.port, "127.0.0.1", () => emitReady({ port: args.port }));
process.on("SIGTERM", () => {
  for (const ws of wss.clients) ws.terminate();
  server.close(() => process.exit(0));
});
