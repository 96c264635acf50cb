/**
 * Sentinel scale rows: what an attached idle node, and a live channel pinned through it,
 * cost the sentinel. One replica serves `idle@fame.fabric`; client nodes attach (each over
 * its own TLS WebSocket with its own Ed25519 key and a signed NodeAttach, as in
 * attach-client.mjs), then each opens one channel: a signed SecureOpen through the sentinel,
 * answered by the replica's signed SecureAccept with an AFT the sentinel checks and pins.
 * At each size the sentinel is collected (inspector GC) and its own memory read from
 * GET /metrics (fame_sentinel_memory_bytes), before and after the nodes, and after the channels.
 * Channels are read twice: just opened, and `settleMs` later, once the opens have left the
 * sentinel's replay window. Kernel TCP memory (both ends of every loopback connection) comes
 * from /proc/net/sockstat.
 * Args: { url, ca, metricsUrl, adminToken, inspectorPort, sizes, concurrency, settleMs }.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { get } from "node:https";
import WebSocket from "ws";
import {
  base64urlEncode,
  decodeEnvelope,
  encodeEnvelope,
  makeEnvelope,
  newId,
  sidFromPath,
} from "../../packages/protocol/dist/index.js";
import { NodeSigner } from "../../packages/sdk/dist/index.js";
import { emitResult, readArgs, runChild } from "../lib/child-io.mjs";
import { connectInspector } from "../lib/inspector.mjs";
import { nowMs } from "../lib/stats.mjs";

const ADDRESS = "idle@fame.fabric";
const WARMUP_NODES = 20;
const ANSWER_TIMEOUT_MS = 20_000;

/** one raw node: a socket, a key, and the answers it waits for by corrId */
class RawNode {
  constructor(ws, signer) {
    this.ws = ws;
    this.signer = signer;
    this.sid = "pending";
    this.path = "";
    this.waiting = new Map();
    this.onRequest = undefined;
    ws.on("message", (data) => {
      const env = decodeEnvelope(data);
      const key = env.corrId;
      const w = key === undefined ? undefined : this.waiting.get(key);
      if (w !== undefined) {
        this.waiting.delete(key);
        clearTimeout(w.timer);
        w.resolve(env);
      } else this.onRequest?.(env);
    });
  }

  /** signs and sends; resolves with the envelope answering it (by `init.corrId`, else by its id) */
  request(init) {
    const env = this.signer.sign(makeEnvelope({ ...init, sid: this.sid }));
    const key = init.corrId ?? env.id;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(key);
        reject(new Error(`no answer to ${init.frame.type} in ${ANSWER_TIMEOUT_MS} ms`));
      }, ANSWER_TIMEOUT_MS);
      this.waiting.set(key, { resolve, timer });
      this.ws.send(encodeEnvelope(env));
    });
  }

  send(init) {
    this.ws.send(encodeEnvelope(this.signer.sign(makeEnvelope({ ...init, sid: this.sid }))));
  }
}

async function attachNode(url, ca, systemId, logicals) {
  const signer = NodeSigner.generate();
  const ws = new WebSocket(url, { ca, perMessageDeflate: false });
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  ws.on("error", () => undefined);
  const node = new RawNode(ws, signer);
  const attach = signer.sign(
    makeEnvelope({
      sid: "pending",
      frame: { type: "NodeAttach", systemId, instanceId: `i${systemId}`, logicals, keys: [signer.jwk] },
    }),
  );
  const ack = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${systemId}: no NodeAttachAck`)), ANSWER_TIMEOUT_MS);
    node.waiting.set(attach.id, {
      resolve: (env) => {
        clearTimeout(timer);
        resolve(env);
      },
      timer,
    });
    ws.send(encodeEnvelope(attach));
  });
  if (ack.frame.type !== "NodeAttachAck" || !ack.frame.ok)
    throw new Error(`${systemId}: attach refused: ${JSON.stringify(ack.frame)}`);
  node.path = ack.frame.assignedPath;
  node.sid = sidFromPath(node.path);
  return node;
}

/** the replica: accepts every channel with a signed AFT, as the SDK's ChannelManager does */
function serveChannels(replica) {
  replica.onRequest = (env) => {
    if (env.frame.type !== "SecureOpen" || env.replyTo === undefined) return;
    const cid = env.frame.cid;
    replica.signer.aftSigner.issue({ sid: replica.sid, cid, clientSid: env.sid }, 3600).then((aft) =>
      replica.send({
        to: env.replyTo,
        corrId: env.corrId ?? cid,
        frame: { type: "SecureAccept", cid, ok: true, ephPub: base64urlEncode(randomBytes(32)), aft },
      }),
    );
  };
}

async function openChannel(node) {
  const cid = newId();
  const answer = await node.request({
    to: ADDRESS,
    replyTo: `rpc@${node.path}`,
    corrId: cid,
    frame: { type: "SecureOpen", cid, ephPub: base64urlEncode(randomBytes(32)), alg: "CHACHA20P1305" },
  });
  if (answer.frame.type !== "SecureAccept" || !answer.frame.ok)
    throw new Error(`channel refused: ${JSON.stringify(answer.frame)}`);
}

/** runs `work(i)` for i in [from, to), `concurrency` at a time */
async function each(from, to, concurrency, work) {
  let next = from;
  const worker = async () => {
    while (next < to) await work(next++);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** kernel TCP buffer memory, all sockets of the host (pages of 4 KiB) */
function kernelTcpBytes() {
  const m = /TCP:.* mem (\d+)/.exec(readFileSync("/proc/net/sockstat", "utf8"));
  return m ? Number(m[1]) * 4096 : 0;
}

function getText(url, ca, token) {
  return new Promise((resolve, reject) => {
    const req = get(url, { ca, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => {
        body += chunk;
      });
      res.on("end", () =>
        res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${url}: ${res.statusCode}`)),
      );
    });
    req.on("error", reject);
  });
}

async function sentinelMemory(args, inspector) {
  await inspector.gc();
  const text = await getText(args.metricsUrl, args.caPem, args.adminToken);
  const mem = { kernelTcp: kernelTcpBytes() };
  for (const m of text.matchAll(/^fame_sentinel_memory_bytes\{area="(\w+)"\} (\d+)/gm))
    mem[m[1]] = Number(m[2]);
  if (mem.rss === undefined) throw new Error("no fame_sentinel_memory_bytes in /metrics");
  return mem;
}

/** per-item growth from `a` to `b`, by area; `native` is the resident set outside heap and Buffers */
function perItem(a, b, n) {
  const d = (k) => (b[k] - a[k]) / n;
  return {
    rss: d("rss"),
    heapUsed: d("heap_used"),
    external: d("external"),
    native: d("rss") - d("heap_used") - d("external"),
    kernelTcp: d("kernelTcp"),
  };
}

function sum(...parts) {
  const out = {};
  for (const k of Object.keys(parts[0])) out[k] = parts.reduce((s, p) => s + p[k], 0);
  return out;
}

runChild("idle-cost", async () => {
  const args = readArgs();
  const ca = readFileSync(args.ca, "utf8");
  args.caPem = ca;
  const inspector = await connectInspector(args.inspectorPort);
  const nodes = [];
  let replica;
  try {
    replica = await attachNode(args.url, ca, "replica0", ["*.fame.fabric"]);
    const bound = await replica.request({ frame: { type: "AddressBind", address: ADDRESS } });
    if (bound.frame.type !== "AddressBindAck" || !bound.frame.ok)
      throw new Error(`bind refused: ${JSON.stringify(bound.frame)}`);
    serveChannels(replica);
    for (let i = 0; i < WARMUP_NODES; i++) nodes.push(await attachNode(args.url, ca, `w${i}`, []));
    for (const node of nodes) await openChannel(node);
    const warm = nodes.length;
    const base = await sentinelMemory(args, inspector);
    const rows = [];
    let attached = 0;
    let previous = base;
    const totals = { nodes: undefined, channels: undefined, opened: undefined };
    for (const size of args.sizes) {
      const t0 = nowMs();
      await each(attached, size, args.concurrency, async (i) => {
        nodes[warm + i] = await attachNode(args.url, ca, `n${i}`, []);
      });
      const attachMs = nowMs() - t0;
      const afterNodes = await sentinelMemory(args, inspector);
      const t1 = nowMs();
      await each(attached, size, args.concurrency, (i) => openChannel(nodes[warm + i]));
      const openMs = nowMs() - t1;
      const justOpened = await sentinelMemory(args, inspector);
      // what stays: the opens' envelope ids leave the sentinel's replay window (the skew, short
      // here) and its next sweep forgets them; no event tells us when, so wait out both
      await new Promise((resolve) => setTimeout(resolve, args.settleMs));
      const afterChannels = await sentinelMemory(args, inspector);
      const added = size - attached;
      // totals over every node and channel so far: the row at 5k is the mean over 5k
      const nodeTotal = perItem(previous, afterNodes, 1);
      const channelTotal = perItem(afterNodes, afterChannels, 1);
      totals.nodes = totals.nodes === undefined ? nodeTotal : sum(totals.nodes, nodeTotal);
      totals.channels = totals.channels === undefined ? channelTotal : sum(totals.channels, channelTotal);
      const openedTotal = perItem(afterNodes, justOpened, 1);
      totals.opened = totals.opened === undefined ? openedTotal : sum(totals.opened, openedTotal);
      const per = (t) => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v / size]));
      rows.push({
        nodes: size,
        attachPerSec: (added * 1000) / attachMs,
        channelOpensPerSec: (added * 1000) / openMs,
        perNode: per(totals.nodes),
        perChannel: per(totals.channels),
        perChannelJustOpened: per(totals.opened),
        sentinel: afterChannels,
      });
      previous = afterChannels;
      attached = size;
    }
    emitResult({ warmupNodes: warm, base, rows });
  } finally {
    inspector.close();
    replica?.ws.terminate();
    for (const node of nodes) node?.ws.terminate();
  }
});
