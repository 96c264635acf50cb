import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { CliIo } from "../src/io.js";
import { runCli } from "../src/program.js";

export const REPO = fileURLToPath(new URL("../../..", import.meta.url));

export interface Captured {
  code: number;
  out: string;
  err: string;
}

/** Runs the CLI in-process with captured output; `interrupt` fires the Ctrl-C handlers. */
export function fakeIo(env: NodeJS.ProcessEnv = {}, cwd = tmpdir(), stdin = "") {
  let out = "";
  let err = "";
  const handlers = new Set<() => void>();
  const io: CliIo = {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    env,
    cwd,
    isTty: false,
    onInterrupt(h) {
      handlers.add(h);
      return () => handlers.delete(h);
    },
    readInput: async (source) => (source === "-" ? stdin : readFileSync(resolve(cwd, source), "utf8")),
  };
  return {
    io,
    interrupt: () => {
      for (const h of handlers) h();
    },
    run: async (...argv: string[]): Promise<Captured> => {
      const code = await runCli(argv, io);
      return { code, out, err };
    },
  };
}

export const run = (argv: string[], env: NodeJS.ProcessEnv = {}, cwd = tmpdir()): Promise<Captured> =>
  fakeIo(env, cwd).run(...argv);

export const SECRET = "s3cr3t-client-value";
export const AGENT_SECRET = "s3cr3t-agent-value";
export const ADMIN_TOKEN = "admin-token-value-never-printed";

/**
 * A checkout as `fame env` sees one: the repo's own topology and node YAML files, with dev
 * credentials, a trust bundle and an admin token of its own.
 */
export function fakeCheckout(): { root: string; remove(): void } {
  const root = mkdtempSync(join(tmpdir(), "fame-cli-checkout-"));
  mkdirSync(join(root, "scripts", "fabric"), { recursive: true });
  cpSync(join(REPO, "scripts", "fabric", "topology.mjs"), join(root, "scripts", "fabric", "topology.mjs"));
  cpSync(join(REPO, "pnpm-workspace.yaml"), join(root, "pnpm-workspace.yaml"));
  mkdirSync(join(root, "config"));
  for (const f of ["client.yml", "math-agent.yml"]) cpSync(join(REPO, "config", f), join(root, "config", f));
  writeFileSync(join(root, "config", "fabric.env"), "FAME_SENTINEL_PORT=9100\n");
  mkdirSync(join(root, "certs", "secrets"), { recursive: true });
  writeFileSync(
    join(root, "certs", "client.env"),
    `FAME_ADMISSION_CLIENT_ID=fame-dev-client\nFAME_ADMISSION_CLIENT_SECRET=${SECRET}\n`,
  );
  writeFileSync(
    join(root, "certs", "agent.env"),
    `FAME_ADMISSION_CLIENT_ID=fame-dev-agent\nFAME_ADMISSION_CLIENT_SECRET=${AGENT_SECRET}\n`,
  );
  // PEM-shaped, enough for settings to load; nothing in unit tests connects with it
  writeFileSync(
    join(root, "certs", "trust-bundle.pem"),
    "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
  );
  writeFileSync(join(root, "certs", "secrets", "admin-token"), `${ADMIN_TOKEN}\n`);
  return { root, remove: () => rmSync(root, { recursive: true, force: true }) };
}
