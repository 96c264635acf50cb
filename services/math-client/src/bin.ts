#!/usr/bin/env node
import { ConfigError, readInt } from "@fame/config";
import { EXIT } from "@fame/http-service/main";
import { Agent, isRpcStream, withFabric } from "@fame/sdk";

interface MathApi {
  add(p: { x: number; y: number }): Promise<number>;
  multiply(p: { x: number; y: number }): Promise<number>;
  fib_stream(p: { n: number }): Promise<AsyncIterable<number>>;
  whoami(p?: Record<string, never>): Promise<{ replica: string }>;
}

const out = (line: string) => process.stdout.write(`${line}\n`);

/**
 * The demo client. Once: add, multiply and fib_stream over one channel,
 * printing which replica served. With FAME_CLIENT_LOOP_SEC, it keeps calling
 * for that long and reports failovers as they happen (make failover-demo).
 */
async function main(): Promise<void> {
  const loopSec = readInt(process.env["FAME_CLIENT_LOOP_SEC"], "FAME_CLIENT_LOOP_SEC", {
    fallback: 0,
    min: 0,
    max: 3600,
  });
  const address = process.env["FAME_AGENT_ADDRESS"] || "math@fame.fabric";
  await withFabric(
    async (fabric) => {
      // FAME_SESSION_ID: calls carry a session id, for pools with session affinity. A session
      // belongs to the client process that made it: this one ends it with its last call, so
      // the next run with the same id makes it again instead of meeting session_not_owned.
      const sessionId = process.env["FAME_SESSION_ID"] || undefined;
      const last = sessionId ? { endSession: true } : undefined;
      const math = Agent.remoteByAddress<MathApi>(address, {
        idempotent: ["add", "multiply", "whoami"],
        ...(sessionId ? { sessionId } : {}),
      });
      if (loopSec === 0) {
        const sum = await math.add({ x: 3, y: 4 });
        const product = await math.multiply({ x: 6, y: 7 });
        const fib: number[] = [];
        const stream = await math.fib_stream({ n: 10 });
        if (!isRpcStream(stream) && !(Symbol.asyncIterator in Object(stream)))
          throw new Error("fib_stream did not stream");
        for await (const v of stream) fib.push(v);
        const { replica } = await math.whoami(undefined, last);
        out(`add(3, 4) = ${sum}`);
        out(`multiply(6, 7) = ${product}`);
        out(`fib_stream(10) = ${fib.join(" ")}`);
        out(`served by: ${replica}`);
        out(`metrics: ${JSON.stringify(fabric.endpoint.client.metrics())}`);
        return;
      }
      const deadline = Date.now() + loopSec * 1000;
      let lastReplica = "";
      let i = 0;
      let seenFailovers = 0;
      // stopped early (make stop, Ctrl-C): the loop ends after its current step and the summary
      // is printed as at the deadline
      let stopped = false;
      const stop = () => {
        stopped = true;
      };
      process.once("SIGTERM", stop);
      process.once("SIGINT", stop);
      while (!stopped && Date.now() < deadline && i < 1_000_000) {
        i++;
        const started = Date.now();
        try {
          const sum = await math.add({ x: i, y: 1 });
          const { replica } = await math.whoami();
          const m = fabric.endpoint.client.metrics();
          const note =
            m.failovers > seenFailovers
              ? `  <- failover (${Math.round(m.lastFailoverLatencyMs ?? 0)} ms)`
              : "";
          seenFailovers = m.failovers;
          if (replica !== lastReplica || note) out(`call ${i}: add = ${sum} on ${replica}${note}`);
          lastReplica = replica;
        } catch (err) {
          out(`call ${i}: failed after ${Date.now() - started} ms: ${(err as Error).message}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      // each step is two RPCs (add, then whoami to name the replica): the metrics count both
      out(`done: ${i} steps (${i * 2} calls), metrics ${JSON.stringify(fabric.endpoint.client.metrics())}`);
      if (last !== undefined) {
        // best effort: an unended session expires after the pool's affinity TTL anyway
        await math.whoami(undefined, last).catch((err: unknown) => {
          out(`session ${sessionId} not ended: ${err instanceof Error ? err.message : String(err)}`);
        });
      }
    },
    // FAME_NODE_NAME names it on the dashboard and in traces, as it names an agent
    { name: process.env["FAME_NODE_NAME"] || "math-client" },
  );
}

main().then(
  () => process.exit(EXIT.ok),
  (err: unknown) => {
    process.stderr.write(`math-client: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(err instanceof ConfigError ? EXIT.config : EXIT.failure);
  },
);
