/**
 * Preloaded with `NODE_OPTIONS=--import <this file>` (see hopTraceEnv in procs.mjs). When
 * BENCH_HOP_TRACE_DIR is set, this process notes the monotonic time (the clock every process
 * of the machine shares) of four transport events of every WebSocket message:
 *   "write" a socket write begins (TLS encryption and the syscall follow)
 *   "data"  bytes reach ws's frame parser (the kernel, the wake-up and TLS decryption are done)
 *   "recv"  ws hands a whole message to the application
 *   "send"  the application hands a message to ws
 *   "written" the socket write returns (TLS record made, the syscall done)
 *   "idle"  the turn that wrote is over (a setImmediate after its first write: the process is
 *           about to wait for I/O again, and a receiver woken onto its vCPU can run)
 * and the entry of a few methods of the fabric's own code (MARKS below) in the packages that
 * BENCH_HOP_TRACE_STAGES lists (e.g. "sdk,crypto"), each an extra ~0.2 µs. Only the newest RING events are kept (the warm-up
 * falls out); at exit they are written to <dir>/<BENCH_HOP_TRACE_NAME>-<pid>.json.
 * Bench use only: nothing of this is loaded in a normal run.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const dir = process.env["BENCH_HOP_TRACE_DIR"];
/** kinds 1-6 are the transport events; stage marks follow */
export const TRANSPORT_EVENTS = ["", "send", "recv", "write", "data", "written", "idle"];
const RING = 1 << 18;

/** fabric methods whose entry marks a stage, per package (dist module → class → methods) */
const MARKS = {
  sdk: {
    "connection/fabric-connection.js": { FabricConnection: ["handle", "outgoing", "write"] },
    "fabric-node.js": { FabricNode: ["onData", "send"] },
    "channel/secure-channel.js": { SecureChannel: ["open", "sealText"] },
    "rpc/endpoint.js": { RpcEndpoint: ["handleIncoming"] },
    "rpc/rpc-server.js": { RpcServer: ["handleRequest"] },
    "rpc/dispatcher.js": { AgentDispatcher: ["invoke"] },
    "rpc/rpc-client.js": { RpcClient: ["handleReply", "call"] },
  },
  crypto: {
    "channel/record.js": { ChannelSender: ["seal"], ChannelReceiver: ["open"] },
  },
  sentinel: {
    "sentinel.js": { Sentinel: ["dispatch"] },
    "pipeline/decode-stage.js": { DecodeStage: ["decode"] },
    "pipeline/route-stage.js": { RouteStage: ["resolve", "route"] },
    "pipeline/deliver-stage.js": { DeliverStage: ["forward"] },
  },
};

if (dir) {
  const repo = new URL("../../", import.meta.url).pathname;
  const require = createRequire(join(repo, "packages/sdk/package.json"));
  const t = new Float64Array(RING);
  const kind = new Uint16Array(RING);
  let n = 0;
  const names = [...TRANSPORT_EVENTS];
  const note = (k) => {
    const i = n++ & (RING - 1);
    t[i] = Number(process.hrtime.bigint());
    kind[i] = k;
  };
  const WebSocket = require("ws");
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function tracedSend(data, options, cb) {
    note(1);
    return send.call(this, data, options, cb);
  };
  const emit = WebSocket.prototype.emit;
  WebSocket.prototype.emit = function tracedEmit(event, a, b, c) {
    if (event === "message") note(2);
    return emit.call(this, event, a, b, c);
  };
  const net = require("node:net");
  const writeGeneric = net.Socket.prototype._writeGeneric;
  let idlePending = false;
  const noteIdle = () => {
    idlePending = false;
    note(6);
  };
  net.Socket.prototype._writeGeneric = function tracedWrite(writev, data, encoding, cb) {
    note(3);
    if (!idlePending) {
      idlePending = true;
      setImmediate(noteIdle);
    }
    try {
      return writeGeneric.call(this, writev, data, encoding, cb);
    } finally {
      note(5);
    }
  };
  const Receiver = require(require.resolve("ws").replace(/index\.js$/, "lib/receiver.js"));
  const receiverWrite = Receiver.prototype._write;
  Receiver.prototype._write = function tracedData(chunk, encoding, cb) {
    note(4);
    return receiverWrite.call(this, chunk, encoding, cb);
  };
  const stages = (process.env["BENCH_HOP_TRACE_STAGES"] ?? "").split(",");
  for (const [pkg, modules] of Object.entries(MARKS)) {
    if (!stages.includes(pkg)) continue;
    for (const [file, classes] of Object.entries(modules)) {
      let mod;
      try {
        mod = await import(join(repo, "packages", pkg, "dist", file));
      } catch {
        continue; // a process that never loads this package has nothing to mark
      }
      for (const [cls, methods] of Object.entries(classes)) {
        const proto = mod[cls]?.prototype;
        for (const method of methods) {
          const fn = proto?.[method];
          if (typeof fn !== "function") {
            process.stderr.write(`hop trace: ${cls}.${method} not found in ${pkg}/${file}\n`);
            continue;
          }
          const k = names.push(`${cls}.${method}`) - 1;
          proto[method] = function marked(...args) {
            note(k);
            return fn.apply(this, args);
          };
        }
      }
    }
  }
  process.once("exit", () => {
    const count = Math.min(n, RING);
    const rows = new Array(count);
    for (let j = 0; j < count; j++) {
      const i = (n - count + j) & (RING - 1);
      rows[j] = [t[i], kind[i]];
    }
    mkdirSync(dir, { recursive: true });
    const name = process.env["BENCH_HOP_TRACE_NAME"] || "process";
    writeFileSync(join(dir, `${name}-${process.pid}.json`), JSON.stringify({ names, rows }));
  });
}
