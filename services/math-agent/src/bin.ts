#!/usr/bin/env node
import { readInt } from "@fame/config";
import { runMain } from "@fame/http-service/main";
import { createLogger } from "@fame/logger";
import { CHANNEL_META_KEY, connectFabric } from "@fame/sdk";
import { waitUntilDrained } from "./drain.js";
import { MathAgent } from "./math-agent.js";

/**
 * One replica of the math agent. Configuration comes from FAME_* variables
 * and FAME_CONFIG (see config/math-agent.yml): replicas request the wildcard
 * logical `*.fame.fabric` so several of them can serve math@fame.fabric.
 */
runMain(async () => {
  const replica = process.env["FAME_REPLICA_NAME"] || "math-agent";
  const address = process.env["FAME_AGENT_ADDRESS"] || "math@fame.fabric";
  const drainTimeoutMs = readInt(process.env["FAME_DRAIN_TIMEOUT_MS"], "FAME_DRAIN_TIMEOUT_MS", {
    fallback: 10_000,
    min: 0,
    max: 600_000,
  });
  // a pinned client that has not called for this long is taken to be done
  const drainQuietMs = readInt(process.env["FAME_DRAIN_QUIET_MS"], "FAME_DRAIN_QUIET_MS", {
    fallback: 1000,
    min: 0,
    max: 60_000,
  });
  // Synchronous log lines: "served" is written before the answer leaves, and survives a SIGKILL.
  const fabric = await connectFabric({ name: replica, logger: createLogger({ name: replica, sync: true }) });
  // corrIds and cids are capabilities (they name a caller's stream and channel): logged only
  // at debug. Decided once: the level does not change while the replica runs.
  const withIds = fabric.log.isLevelEnabled("debug");
  const agent = new MathAgent({
    replica,
    onCall: (op, ctx, details) =>
      fabric.log.info(
        withIds
          ? { op, replica, corrId: ctx.corrId, cid: ctx.meta[CHANNEL_META_KEY], ...details }
          : { op, replica, ...details },
        "served",
      ),
  });
  await agent.serve(address);
  fabric.log.info({ address, replica, path: fabric.connection.path }, "math agent ready");
  return {
    // runMain's forced exit must not cut the drain short: the drain bound plus time to detach
    closeTimeoutMs: drainTimeoutMs + 5000,
    // SIGTERM: stop taking new channels, serve pinned ones until they go quiet, then leave.
    async close() {
      fabric.drain();
      fabric.log.info({ drainTimeoutMs, drainQuietMs }, "draining");
      const outcome = await waitUntilDrained(
        {
          activeCalls: () => fabric.endpoint.activeCalls,
          lastActivityAt: () => fabric.node.lastActivityAt,
        },
        { quietMs: drainQuietMs, timeoutMs: drainTimeoutMs },
      );
      fabric.log.info({ outcome, activeCalls: fabric.endpoint.activeCalls }, "drained");
      await fabric.close();
    },
  };
}, "math-agent");
