import { readFile } from "node:fs/promises";
import { isAbsolute, relative, resolve } from "node:path";

/** params read from stdin or a file at most: well past the sentinel's frame limit (1 MiB by default) */
export const MAX_INPUT_BYTES = 64 * 1024 * 1024;

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
  /**
   * The text of `source`: standard input for "-", else a file (relative to cwd). Throws past
   * MAX_INPUT_BYTES. For params too large for a command line (`fame call … -` or `@file`).
   */
  readInput(source: string): Promise<string>;
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
    readInput: (source) =>
      source === "-"
        ? readStdin()
        : readBounded(resolve(invocationDir(process.env["INIT_CWD"], process.cwd()), source)),
  };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > MAX_INPUT_BYTES) throw new Error(`standard input is over ${MAX_INPUT_BYTES} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString("utf8");
}

async function readBounded(file: string): Promise<string> {
  const text = await readFile(file);
  if (text.length > MAX_INPUT_BYTES) throw new Error(`${file} is over ${MAX_INPUT_BYTES} bytes`);
  return text.toString("utf8");
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
