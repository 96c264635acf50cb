/**
 * A math-agent replica for measurements: the shipped MathAgent class behind a real
 * SDK node, configured from FAME_* like services/math-agent, but without the demo's
 * info log line per call (a synchronous stdout write per request that the
 * orchestrator would also have to read), so the rows measure the fabric. It also serves
 * `echo({ data })` (answers `data`), for the large-payload rows: an operation of the bench,
 * not of the demo agent, whose operations are about arithmetic.
 * Prints a ready line once it serves; SIGTERM leaves cleanly.
 */
import { createLogger } from "../../packages/logger/dist/index.js";
import { connectFabric, defineOperation, RpcError, RpcErrorCode } from "../../packages/sdk/dist/index.js";
import { MathAgent } from "../../services/math-agent/dist/index.js";
import { emitReady } from "../lib/child-io.mjs";

class BenchAgent extends MathAgent {
  async echo(params) {
    if (typeof params.data !== "string")
      throw new RpcError(RpcErrorCode.INVALID_PARAMS, "data must be a string", "invalid_params");
    return params.data;
  }
}
defineOperation(BenchAgent, "echo", { idempotent: true, description: "answers data" });

const replica = process.env["FAME_REPLICA_NAME"] || "bench-replica";
const fabric = await connectFabric({
  name: replica,
  logger: createLogger({ name: replica, level: "warn" }),
});
const agent = new BenchAgent({ replica });
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
