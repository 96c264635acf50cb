/**
 * Fabric rows: a real SDK node (admission, attach, signing, channels as its
 * FAME_* environment says) calling the math agent through the sentinel.
 * Args: { address, warmupMs, measureMs, pids?, tasks: [{ name, kind, concurrency, n?, bytes? }] }
 * (pids: the sentinel's and replica's, to report their CPU time per operation)
 *   kind "add"       : math.add round trips
 *   kind "fib"       : fib_stream(n), every item consumed (result counts calls; items = calls × n)
 *   kind "echo"      : math.echo({ data }) round trips, data a string of `bytes` base64url characters
 *   kind "handshake" : open a channel to `address`, then close it (SecureClose) so the next op opens a new one
 */
import { randomBytes } from "node:crypto";
import { createLogger } from "../../packages/logger/dist/index.js";
import { Agent, connectFabric, nodeConfigFromEnv } from "../../packages/sdk/dist/index.js";
import { emitResult, readArgs, runChild } from "../lib/child-io.mjs";
import { closedLoop } from "../lib/closed-loop.mjs";
import { cpuProbes } from "../lib/cpu.mjs";

runChild("fabric-client", async () => {
  const args = readArgs();
  const address = args.address ?? "math@fame.fabric";
  const fabric = await connectFabric({
    name: "bench-client",
    config: nodeConfigFromEnv(process.env),
    logger: createLogger({ name: "bench-client", level: "warn" }),
    installDefault: false,
  });
  const math = Agent.remoteByAddress(address, {
    endpoint: fabric.endpoint,
    idempotent: ["add", "echo"],
    // the SDK's default credit window unless a run asks for another
    ...(args.streamWindow ? { streamWindow: args.streamWindow } : {}),
  });
  let i = 0;
  const ops = {
    add: () => async () => {
      const x = i++;
      const sum = await math.add({ x, y: 1 });
      if (sum !== x + 1) throw new Error(`add(${x}, 1) returned ${sum}`);
    },
    fib: (n) => async () => {
      const stream = await math.fib_stream({ n });
      let items = 0;
      for await (const _ of stream) items++;
      if (items !== n) throw new Error(`fib_stream(${n}) gave ${items} items`);
    },
    echo: (_n, bytes) => {
      // random text (base64url: nothing to escape in JSON), made once: the rows measure moving it
      const data = randomBytes(Math.ceil((bytes * 3) / 4))
        .toString("base64url")
        .slice(0, bytes);
      return async () => {
        const back = await math.echo({ data });
        if (typeof back !== "string" || back.length !== bytes)
          throw new Error("echo answered another payload");
      };
    },
    handshake: () => async () => {
      const ch = await fabric.node.channels.forAddress(address);
      // close it the protocol's way, so neither the sentinel nor the replica keeps it
      fabric.node.channels.invalidate(ch.cid);
      fabric.connection.send({ to: address, frame: { type: "SecureClose", cid: ch.cid, reason: "bench" } });
    },
  };
  const results = {};
  try {
    for (const task of args.tasks) {
      const make = ops[task.kind];
      if (!make) throw new Error(`unknown task kind ${task.kind}`);
      const r = await closedLoop(make(task.n, task.bytes), {
        concurrency: task.concurrency,
        warmupMs: args.warmupMs ?? 500,
        measureMs: args.measureMs ?? 3000,
        cpu: cpuProbes({ client: process.pid, ...args.pids }),
      });
      if (task.kind === "fib") r.itemsPerSec = r.perSec * task.n;
      results[task.name] = r;
    }
  } finally {
    const metrics = fabric.endpoint.client.metrics();
    const channels = { ...fabric.node.channels.metrics };
    await fabric.close();
    emitResult({ results, rpcMetrics: metrics, channelMetrics: channels });
  }
});
