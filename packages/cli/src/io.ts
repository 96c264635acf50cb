import { isAbsolute, relative } from "node:path";

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
    cwd: invocationDir(process.env["INIT_CWD"], process.cwd()),
    isTty: process.stdout.isTTY === true,
    onInterrupt(handler) {
      process.on("SIGINT", handler);
      return () => process.off("SIGINT", handler);
    },
  };
}

/**
 * The directory the user ran the command in. `pnpm fame` / `npm exec fame` run the bin from the
 * package root and say where the user was in INIT_CWD, which is then inside (or equal to) the
 * process's cwd. An INIT_CWD outside it was inherited from some script further up (a test
 * runner started by `pnpm test` that spawned the CLI elsewhere) and names a stranger's directory.
 */
export function invocationDir(initCwd: string | undefined, cwd: string): string {
  if (initCwd === undefined || initCwd === "") return cwd;
  const rel = relative(cwd, initCwd);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel)) ? initCwd : cwd;
}
