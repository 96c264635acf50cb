import { ConfigError } from "@fame/config";

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
 * Runs a service's main: prints config errors plainly (exit 2), closes on
 * SIGTERM/SIGINT (exit 0), and exits 1 on anything unexpected. The signal
 * handlers are installed before main starts, so a SIGTERM that arrives while
 * the service is still starting is honoured once it is up, never lost.
 */
export function runMain(main: () => Promise<MainService>, name: string): void {
  let svc: MainService | undefined;
  let requested: string | undefined;
  let stopping = false;
  const stop = (signal: string) => {
    if (!svc) {
      if (requested) return;
      requested = signal;
      // a start that never finishes must not make the process unkillable by SIGTERM
      setTimeout(() => {
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
      if (requested) stop(requested);
    },
    (err: unknown) => {
      if (err instanceof ConfigError) {
        process.stderr.write(`${name}: ${err.message}\n`);
        process.exit(EXIT.config);
      }
      process.stderr.write(`${name}: failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(EXIT.failure);
    },
  );
}
