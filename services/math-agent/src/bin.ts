#!/usr/bin/env node
import { ConfigError } from "@fame/config";
import { EXIT } from "@fame/http-service/main";
import { createLogger, LogSettingError } from "@fame/logger";
import { CHANNEL_META_KEY, connectFabric, nodeConfigFromEnv } from "@fame/sdk";
import { MathAgent } from "./math-agent.js";

/**
 * One replica of the math agent. Configuration comes from FAME_* variables
 * and FAME_CONFIG (see config/math-agent.yml): replicas request the wildcard
 * logical `*.fame.fabric` so several of them can serve math@fame.fabric.
 * SIGTERM drains it (serve() arranges that: FAME_DRAIN_TIMEOUT_MS, FAME_DRAIN_QUIET_MS).
 */
async function main(): Promise<void> {
  const config = nodeConfigFromEnv();
  const replica = config.nodeName ?? "math-agent";
  const address = process.env["FAME_AGENT_ADDRESS"] || "math@fame.fabric";
  // Synchronous log lines: "served" is written before the answer leaves, and survives a SIGKILL.
  const logger = createLogger({ name: replica, sync: true, env: config.env });
  const fabric = await connectFabric({ name: replica, config, logger });
  // corrIds and cids are capabilities (they name a caller's stream and channel): logged only
  // at debug. Decided once: the level does not change while the replica runs.
  const withIds = fabric.log.isLevelEnabled("debug");
  const agent = new MathAgent({
    replica,
    // the caller's principal (the OAuth2 client its certificate names) is no secret, and tells
    // an operator whose load this is
    onCall: (op, ctx, details) => {
      const principal = ctx.caller.principal;
      const who = principal === undefined ? {} : { principal };
      fabric.log.info(
        withIds
          ? { op, replica, ...who, corrId: ctx.corrId, cid: ctx.meta[CHANNEL_META_KEY], ...details }
          : { op, replica, ...who, ...details },
        "served",
      );
    },
  });
  await agent.serve(address);
  fabric.log.info({ address, replica, path: fabric.connection.path }, "math agent ready");
}

main().catch((err: unknown) => {
  // a bad setting (FAME_LOG_LEVEL included) is named plainly, with its own exit code
  if (err instanceof ConfigError || err instanceof LogSettingError) {
    process.stderr.write(`math-agent: ${err.message}\n`);
    process.exit(EXIT.config);
  }
  // The fabric's own refusals (admission, attach, a bind) say what is wrong in one line; a
  // stack helps only with what nobody expected.
  const explained = err instanceof Error && typeof (err as { code?: unknown }).code === "string";
  const detail = err instanceof Error ? (explained ? err.message : err.stack) : String(err);
  process.stderr.write(`math-agent: failed to start: ${detail}\n`);
  process.exit(EXIT.failure);
});
