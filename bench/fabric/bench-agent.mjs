/**
 * A math-agent replica for measurements: the shipped MathAgent class behind a real
 * SDK node, configured from FAME_* like services/math-agent, but without the demo's
 * info log line per call (a synchronous stdout write per request that the
 * orchestrator would also have to read), so the rows measure the fabric.
 * Prints a ready line once it serves; SIGTERM leaves cleanly.
 */
import { createLogger } from "../../packages/logger/dist/index.js";
import { connectFabric } from "../../packages/sdk/dist/index.js";
import { MathAgent } from "../../services/math-agent/dist/index.js";
import { emitReady } from "../lib/child-io.mjs";

const replica = process.env["FAME_REPLICA_NAME"] || "bench-replica";
const fabric = await connectFabric({
  name: replica,
  logger: createLogger({ name: replica, level: "warn" }),
});
const agent = new MathAgent({ replica });
await agent.serve(process.env["FAME_AGENT_ADDRESS"] || "math@fame.fabric");
emitReady({ replica, path: fabric.connection.path });
let stopping = false;
process.on("SIGTERM", () => {
  if (stopping) return;
  stopping = true;
  fabric.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
