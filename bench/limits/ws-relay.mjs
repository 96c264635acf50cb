/**
 * Limit row: the cost of one hop. A bare WebSocket relay with the sentinel's
 * transport settings: each client connection gets its own upstream connection
 * to the echo server and frames are passed through untouched (no parsing).
 * Args: { port, cert, key, upstream, ca }. Runs until SIGTERM.
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:https";
import WebSocket, { WebSocketServer } from "ws";
import { emitReady, readArgs } from "../lib/child-io.mjs";

const args = readArgs();
const ca = readFileSync(args.ca, "utf8");
const server = createServer({
  cert: readFileSync(args.cert, "utf8"),
  key: readFileSync(args.key, "utf8"),
  minVersion: "TLSv1.2",
});
const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 2 * 1024 * 1024 });
wss.on("connection", (down) => {
  const up = new WebSocket(args.upstream, { ca, perMessageDeflate: false });
  // frames that arrive before the upstream is open wait here (bounded by the client's window)
  const queued = [];
  up.on("open", () => {
    for (const [data, isBinary] of queued.splice(0)) up.send(data, { binary: isBinary });
  });
  down.on("message", (data, isBinary) => {
    if (up.readyState === WebSocket.OPEN) up.send(data, { binary: isBinary });
    else if (queued.length < 10_000) queued.push([data, isBinary]);
  });
  up.on("message", (data, isBinary) => down.send(data, { binary: isBinary }));
  const end = () => {
    down.terminate();
    up.terminate();
  };
  down.on("close", end);
  up.on("close", end);
  down.on("error", end);
  up.on("error", end);
});
server.listen(args.port, "127.0.0.1", () => emitReady({ port: args.port }));
process.on("SIGTERM", () => {
  for (const ws of wss.clients) ws.terminate();
  server.close(() => process.exit(0));
});
