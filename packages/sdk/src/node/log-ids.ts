import type { Logger } from "@fame/logger";

/**
 * Channel ids and correlation ids are capabilities: knowing one is half of closing someone's
 * channel or cancelling their stream. Logs carry them only at debug level, where an operator
 * asked for that detail; otherwise the fields are left out.
 */
export function idsAtDebug<T extends Record<string, string | undefined>>(log: Logger, ids: T): Partial<T> {
  return log.isLevelEnabled("debug") ? ids : {};
}
