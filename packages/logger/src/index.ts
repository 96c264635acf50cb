import pino, { type DestinationStream, type Logger, type LoggerOptions } from "pino";
import pretty from "pino-pretty";

export type { Logger } from "pino";
export { LogThrottle } from "./log-throttle.js";
export { escapeControls, quotedName, untrustedText } from "./untrusted-text.js";

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Field names whose values are secrets. Redaction is by path, so every depth a
 * secret realistically appears at is listed: pino's wildcard covers one level.
 */
const SECRET_KEYS = [
  "token",
  "accessToken",
  "access_token",
  "attachTicket",
  "ticket",
  "aft",
  "privateKey",
  "private_key",
  "secretKey",
  "secret",
  "clientSecret",
  "client_secret",
  "password",
  "authorization",
  "Authorization",
  "d",
  "seed",
  "sharedSecret",
  "key",
  "keyPem",
];

export const REDACT_PATHS: string[] = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((k) => `*.${k}`),
  ...SECRET_KEYS.map((k) => `*.*.${k}`),
  'req.headers["authorization"]',
  'headers["authorization"]',
];

export interface LoggerSettings {
  /** process or component name, emitted as `name` on every line */
  name: string;
  level?: LogLevel;
  /** human-readable output; default: a TTY on stdout or FAME_LOG_PRETTY=1 */
  pretty?: boolean;
  /** write somewhere other than stdout (tests capture logs this way) */
  destination?: DestinationStream;
  /**
   * Write each line to stdout before the logging call returns. pino buffers by default, so
   * the last lines before a crash (SIGKILL) can be lost; a process whose log is a record of
   * what it did (the demo agent's "served" lines) wants them all. Costs throughput.
   */
  sync?: boolean;
  env?: NodeJS.ProcessEnv;
}

export class LogSettingError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    // worded as every other bad setting (@fame/config's ConfigError)
    super(`invalid setting ${setting}: ${message}`);
    this.name = "LogSettingError";
  }
}

/** Reads FAME_LOG_LEVEL, refusing unknown values so a typo is not silently "info". */
export function logLevelFromEnv(env: NodeJS.ProcessEnv = process.env): LogLevel {
  const raw = env["FAME_LOG_LEVEL"];
  if (raw === undefined || raw === "") return "info";
  const level = raw.toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new LogSettingError("FAME_LOG_LEVEL", `must be one of ${LOG_LEVELS.join("|")}, got "${raw}"`);
  }
  return level as LogLevel;
}

function prettyWanted(env: NodeJS.ProcessEnv): boolean {
  const flag = env["FAME_LOG_PRETTY"];
  if (flag === "1" || flag === "true") return true;
  if (flag === "0" || flag === "false") return false;
  return process.stdout.isTTY === true;
}

export function createLogger(settings: LoggerSettings): Logger {
  const env = settings.env ?? process.env;
  const options: LoggerOptions = {
    name: settings.name,
    level: settings.level ?? logLevelFromEnv(env),
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (settings.destination) return pino(options, settings.destination);
  if (settings.pretty ?? prettyWanted(env)) {
    // In-process stream rather than a transport worker: no extra thread, and
    // lines are not lost when a process exits right after logging.
    return pino(options, pretty({ colorize: process.stdout.isTTY === true, sync: true }));
  }
  if (settings.sync) return pino(options, pino.destination({ dest: 1, sync: true }));
  return pino(options);
}
