/**
 * Limit rows: round trips of fixed-size text frames over one WebSocket, through
 * whatever `url` points at (the echo server directly, or the relay in front of it).
 * Args: { url, ca?, bytes, runs: [{ name, concurrency }], warmupMs, measureMs, pids? }
 * (pids: other processes whose CPU time per round trip is reported, by name).
 * Prints one BENCH_RESULT with a closed-loop result per run.
 */
import { readFileSync } from "node:fs";
import WebSocket from "ws";
import { emitResult, readArgs, runChild } from "../lib/child-io.mjs";
import { closedLoop } from "../lib/closed-loop.mjs";
import { cpuProbes } from "../lib/cpu.mjs";

runChild("ws-client", async () => {
  const args = readArgs();
  const ws = new WebSocket(args.url, {
    ...(args.ca ? { ca: readFileSync(args.ca, "utf8") } : {}),
    perMessageDeflate: false,
  });
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  // One connection keeps frame order, so answers complete requests first in, first out.
  const waiting = [];
  let head = 0;
  ws.on("message", () => {
    const waiter = waiting[head];
    waiting[head++] = undefined;
    if (head > 4096 && head * 2 > waiting.length) {
      waiting.splice(0, head);
      head = 0;
    }
    waiter?.resolve();
  });
  let closed = false;
  ws.on("close", () => {
    closed = true;
    for (let i = head; i < waiting.length; i++) waiting[i]?.reject(new Error("echo connection closed"));
  });
  const payload = "x".repeat(args.bytes ?? 200);
  const roundTrip = () =>
    new Promise((resolve, reject) => {
      if (closed) return reject(new Error("echo connection closed"));
      waiting.push({ resolve, reject });
      ws.send(payload, { binary: false });
    });
  const results = {};
  for (const run of args.runs) {
    results[run.name] = await closedLoop(roundTrip, {
      concurrency: run.concurrency,
      warmupMs: args.warmupMs ?? 500,
      measureMs: args.measureMs ?? 3000,
      cpu: cpuProbes({ client: process.pid, ...args.pids }),
    });
  }
  ws.close();
  emitResult({ bytes: payload.length, results });
});
