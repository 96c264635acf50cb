/**
 * The CLI's exit codes. Scripts branch on them, so they are part of the interface
 * (docs/cli.md lists them).
 */
export const EXIT = {
  ok: 0,
  /** the operation ran and failed: an RPC error, a refused or failed HTTP request, no such node */
  failure: 1,
  /** the command line or the configuration is wrong; nothing was sent */
  usage: 2,
  /** nothing answered in time: fabric, sentinel or identity services down or unreachable, or a timeout */
  unreachable: 3,
  /** cancelled with Ctrl-C (128 + SIGINT) */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure the CLI explains in one message and maps to an exit code (no stack trace). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
    this.name = "CliError";
  }
}

export const usageError = (message: string): CliError => new CliError(message, EXIT.usage);
