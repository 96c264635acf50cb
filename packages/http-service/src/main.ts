import { ConfigError } from "@fame/config";
import { LogSettingError } from "@fame/logger";

/** Process exit codes: scripts and supervisors can tell bad config from a crash. */
export const EXIT = { ok: 0, failure: 1, config: 2 } as const;

/** How long close() may take before the process is forced out, unless the service says otherwise. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;

export interface MainService {
  close(): Promise<void>;
  /**
   * Bound on close() before a forced exit 1; default DEFAULT_CLOSE_TIMEOUT_MS.
   * A service whose close drains (waits for its clients) sets its own, longer bound.
   */
  closeTimeoutMs?: number;
}

/**
 * Runs a service's main: prints setting errors plainly (exit 2), closes on
 * SIGTERM/SIGINT (exit 0), and exits 1 on anything unexpected. The signal
 * handlers are installed before main starts, so a SIGTERM that arrives while
 * the service is still starting is honoured once it is up, never lost.
 */
export function runMain(main: () => Promise<MainService>, name: string): void {
  let svc: MainService | undefined;
  let requested: string | undefined;
  let startupBound: NodeJS.Timeout | undefined;
  let stopping = false;
  const stop = (signal: string) => {
    if (!svc) {
      if (requested) return;
      requested = signal;
      // a start that never finishes must not make the process unkillable by SIGTERM
      startupBound = setTimeout(() => {
        process.stderr.write(`${name}: ${signal} during start-up, and start-up did not finish: exiting\n`);
        process.exit(EXIT.failure);
      }, DEFAULT_CLOSE_TIMEOUT_MS).unref();
      return;
    }
    if (stopping) return;
    stopping = true;
    process.stderr.write(`${name}: ${signal}, shutting down\n`);
    const bound = svc.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    const force = setTimeout(() => {
      process.stderr.write(`${name}: close did not finish within ${bound} ms, forcing exit\n`);
      process.exit(EXIT.failure);
    }, bound);
    force.unref();
    svc.close().then(
      () => process.exit(EXIT.ok),
      () => process.exit(EXIT.failure),
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  main().then(
    (started) => {
      svc = started;
      // from here close() has its own bound, which a draining service may set longer
      clearTimeout(startupBound);
      if (requested) stop(requested);
    },
    (err: unknown) => {
      // a bad FAME_LOG_LEVEL is a setting like any other, though the logger cannot use ConfigError
      if (err instanceof ConfigError || err instanceof LogSettingError) {
        process.stderr.write(`${name}: ${err.message}\n`);
        process.exit(EXIT.config);
      }
      process.stderr.write(`${name}: failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(EXIT.failure);
    },
  );
}
