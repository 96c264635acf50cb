/**
 * Sentinel scale rows: how fast nodes attach, and what each attached node costs the
 * sentinel. Opens `count` WebSocket connections (TLS, like the SDK), each sending a
 * signed NodeAttach with its own fresh key (admission profile `none`, security profile
 * `overlay`: the sentinel checks key possession), `concurrency` handshakes at a time.
 * The sentinel's RSS is read from /proc before and after, all nodes still attached.
 * Args: { url, ca, count, concurrency, sentinelPid, healthUrl }.
 */
import { readFileSync } from "node:fs";
import WebSocket from "ws";
import { requestJson } from "../../packages/http-service/dist/client.js";
import { decodeEnvelope, encodeEnvelope, makeEnvelope } from "../../packages/protocol/dist/index.js";
import { NodeSigner } from "../../packages/sdk/dist/index.js";
import { emitResult, readArgs, runChild } from "../lib/child-io.mjs";
import { cpuMsOf } from "../lib/cpu.mjs";
import { nowMs, Samples } from "../lib/stats.mjs";

function rssOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status);
  if (!kb) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb[1]) * 1024;
}

async function sessionsOf(healthUrl, ca) {
  const body = await requestJson(healthUrl, { ca });
  return body.sessions;
}

function attachOne(url, ca, n) {
  return new Promise((resolve, reject) => {
    const signer = NodeSigner.generate();
    const ws = new WebSocket(url, { ca, perMessageDeflate: false });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`node ${n}: no NodeAttachAck in 20 s`));
    }, 20_000);
    ws.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    ws.once("open", () => {
      const attach = makeEnvelope({
        sid: "pending",
        frame: {
          type: "NodeAttach",
          systemId: `bench${n}`,
          instanceId: `inst${n}`,
          logicals: [],
          keys: [signer.jwk],
        },
      });
      signer.sign(attach);
      ws.send(encodeEnvelope(attach));
    });
    ws.once("message", (data) => {
      clearTimeout(timer);
      const ack = decodeEnvelope(data);
      if (ack.frame.type !== "NodeAttachAck" || !ack.frame.ok) {
        ws.terminate();
        reject(new Error(`node ${n}: attach refused: ${JSON.stringify(ack.frame)}`));
        return;
      }
      resolve(ws);
    });
  });
}

runChild("attach-client", async () => {
  const args = readArgs();
  const ca = readFileSync(args.ca, "utf8");
  const sockets = [];
  const latency = new Samples(args.count);
  // a few nodes first: connection-independent allocations should not count per node
  for (let i = 0; i < 20; i++) sockets.push(await attachOne(args.url, ca, `w${i}`));
  const rssBefore = rssOf(args.sentinelPid);
  const cpuBefore = { sentinel: cpuMsOf(args.sentinelPid), client: cpuMsOf(process.pid) };
  let next = 0;
  const t0 = nowMs();
  const worker = async () => {
    while (next < args.count) {
      const n = next++;
      const started = nowMs();
      sockets.push(await attachOne(args.url, ca, n));
      latency.add(nowMs() - started);
    }
  };
  await Promise.all(Array.from({ length: args.concurrency }, worker));
  const elapsedMs = nowMs() - t0;
  const perAttach = (name, pid) => ((cpuMsOf(pid) - cpuBefore[name]) * 1000) / args.count;
  const cpuUsPerOp = {
    sentinel: perAttach("sentinel", args.sentinelPid),
    client: perAttach("client", process.pid),
  };
  const sessions = await sessionsOf(args.healthUrl, ca);
  if (sessions < args.count)
    throw new Error(`sentinel reports ${sessions} sessions, expected ${args.count}+`);
  const rssAfter = rssOf(args.sentinelPid);
  for (const ws of sockets) ws.terminate();
  emitResult({
    nodes: args.count,
    concurrency: args.concurrency,
    elapsedMs,
    attachPerSec: (args.count * 1000) / elapsedMs,
    latencyMs: latency.summary(),
    cpuUsPerOp,
    sentinelRssBefore: rssBefore,
    sentinelRssAfter: rssAfter,
    bytesPerNode: (rssAfter - rssBefore) / args.count,
  });
});
