#!/usr/bin/env node
import { runMain } from "@fame/http-service";
import { connectFabric } from "@fame/sdk";
import { MathAgent } from "./math-agent.js";

/**
 * One replica of the math agent. Configuration comes from FAME_* variables
 * and FAME_CONFIG (see config/math-agent.yml): replicas request the wildcard
 * logical `*.fame.fabric` so several of them can serve math@fame.fabric.
 */
runMain(async () => {
  const replica = process.env["FAME_REPLICA_NAME"] || "math-agent";
  const address = process.env["FAME_AGENT_ADDRESS"] || "math@fame.fabric";
  const drainTimeoutMs = Number(process.env["FAME_DRAIN_TIMEOUT_MS"] || 10_000);
  const fabric = await connectFabric({ name: replica });
  const agent = new MathAgent({
    replica,
    onCall: (op, ctx) => fabric.log.info({ op, replica, corrId: ctx.corrId }, "served"),
  });
  await agent.serve(address);
  fabric.log.info({ address, replica, path: fabric.connection.path }, "math agent ready");
  return {
    // SIGTERM: stop taking new channels, let pinned ones finish, then leave.
    async close() {
      fabric.drain();
      fabric.log.info({ drainTimeoutMs }, "draining");
      await new Promise((r) => setTimeout(r, Math.min(drainTimeoutMs, 60_000)).unref());
      await fabric.close();
    },
  };
}, "math-agent");
