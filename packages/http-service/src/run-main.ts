import { ConfigError } from "@fame/config";

/** Process exit codes: scripts and supervisors can tell bad config from a crash. */
export const EXIT = { ok: 0, failure: 1, config: 2 } as const;

/**
 * Runs a service's main: prints config errors plainly (exit 2), closes on
 * SIGTERM/SIGINT (exit 0), and exits 1 on anything unexpected.
 */
export function runMain(main: () => Promise<{ close(): Promise<void> }>, name: string): void {
  let stopping = false;
  main().then(
    (svc) => {
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        process.stderr.write(`${name}: ${signal}, shutting down\n`);
        const force = setTimeout(() => process.exit(EXIT.failure), 10_000);
        force.unref();
        svc.close().then(
          () => process.exit(EXIT.ok),
          () => process.exit(EXIT.failure),
        );
      };
      process.on("SIGTERM", () => stop("SIGTERM"));
      process.on("SIGINT", () => stop("SIGINT"));
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
