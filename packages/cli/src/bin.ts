#!/usr/bin/env node
import { processIo } from "./io.js";
import { runCli } from "./program.js";

// `fame … | head` closes the pipe early: that is the reader's choice, not an error
process.stdout.on("error", (err: NodeJS.ErrnoException) => process.exit(err.code === "EPIPE" ? 0 : 1));

runCli(process.argv.slice(2), processIo()).then(
  // open sockets (a fabric link being closed) must not keep the answer waiting
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`fame: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
