/** What a command touches outside itself, injected so tests can run commands in-process. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** whether stdout is a terminal (plain output may then be friendlier) */
  isTty: boolean;
  /**
   * Registers a Ctrl-C handler for a long-running command; returns a function that removes it.
   * Tests trigger it directly.
   */
  onInterrupt(handler: () => void): () => void;
}

export function processIo(): CliIo {
  return {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    env: process.env,
    cwd: process.env["INIT_CWD"] || process.cwd(),
    isTty: process.stdout.isTTY === true,
    onInterrupt(handler) {
      process.on("SIGINT", handler);
      return () => process.off("SIGINT", handler);
    },
  };
}
