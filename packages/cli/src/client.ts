/** The CLI as a fabric client: connect from the environment, log to stderr at warn, close after. */
import { createLogger, type LogLevel, logLevelFromEnv } from "@fame/logger";
import type { Fabric } from "@fame/sdk";
import { usageError } from "./exit-codes.js";
import type { CliIo } from "./io.js";
import { type GlobalOptions, nodeEnv } from "./node-env.js";

const HIDDEN_FIELDS = new Set(["level", "time", "pid", "hostname", "name", "msg"]);
const LEVEL_NAMES: Record<number, string> = {
  10: "trace",
  20: "debug",
  30: "info",
  40: "warn",
  50: "error",
  60: "fatal",
};

/**
 * One pino line as one readable stderr line (`fame: warn: reconnecting {"attempt":2}`); raw JSON
 * with FAME_LOG_PRETTY=0, for whoever collects logs.
 */
export function humanLogLine(line: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const level = LEVEL_NAMES[Number(rec["level"])] ?? String(rec["level"]);
  const rest = Object.fromEntries(Object.entries(rec).filter(([k]) => !HIDDEN_FIELDS.has(k)));
  const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : "";
  return `fame: ${level}: ${String(rec["msg"] ?? "")}${extra}\n`;
}

/**
 * Clients log warnings and worse unless FAME_LOG_LEVEL asks for more (stdout is for results),
 * or FAME_SHOW_ENVELOPES asks for the envelope lines, which are logged at info.
 */
export function cliLogLevel(env: NodeJS.ProcessEnv, showEnvelopes = false): LogLevel {
  if (env["FAME_LOG_LEVEL"]) return logLevelFromEnv(env);
  return showEnvelopes ? "info" : "warn";
}

/** Parses `--timeout`: milliseconds, or a number with ms, s or m. */
export function parseDuration(text: string, option = "--timeout"): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  const unit = m?.[2] ?? "ms";
  const ms = m ? Number(m[1]) * (unit === "m" ? 60_000 : unit === "s" ? 1000 : 1) : Number.NaN;
  if (!Number.isFinite(ms) || ms < 10 || ms > 3_600_000) {
    throw usageError(`${option} must be a duration from 10ms to 60m (e.g. 5000, 5s, 2m), got "${text}"`);
  }
  return Math.round(ms);
}

export async function withClient<T>(
  io: CliIo,
  global: GlobalOptions,
  fn: (fabric: Fabric) => Promise<T>,
): Promise<T> {
  const env = await nodeEnv(io, global);
  // loaded only by the commands that connect: `fame --help`, `status` or `new` start without it
  const { connectFabric, nodeConfigFromEnv } = await import("@fame/sdk");
  const config = nodeConfigFromEnv(env);
  const raw = env["FAME_LOG_PRETTY"] === "0" || env["FAME_LOG_PRETTY"] === "false";
  const logger = createLogger({
    name: "fame",
    level: cliLogLevel(env, config.showEnvelopes),
    env,
    destination: { write: (line: string) => io.err(raw ? line : humanLogLine(line)) },
  });
  const fabric = await connectFabric({ name: "fame", config, logger, installDefault: false });
  try {
    return await fn(fabric);
  } finally {
    await fabric.close();
  }
}
