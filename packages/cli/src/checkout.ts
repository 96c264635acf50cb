/**
 * A FAME checkout and its dev fabric (`make start`). The checkout's own
 * scripts/fabric/topology.mjs is the one source of truth for ports, URLs and file
 * locations: it is loaded from the checkout at run time, so `fame env --root <clone>`
 * agrees with that clone's `make start` and `make status`, whichever version it is.
 */
import { existsSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { usageError } from "./exit-codes.js";

const TOPOLOGY = join("scripts", "fabric", "topology.mjs");
const MAX_DEPTH = 64;

export interface FabricSettings {
  ports: Record<string, number>;
  urls: { oauth2: string; welcome: string; ca: string; sentinel: string; attach: string; status: string };
}

/** The part of scripts/fabric/topology.mjs the CLI uses. */
export interface Topology {
  ROOT: string;
  CONFIG_DIR: string;
  CERTS_DIR: string;
  TRUST_BUNDLE: string;
  ADMIN_TOKEN_FILE: string;
  PORTS: { key: string; env: string }[];
  fabricSettings(env?: NodeJS.ProcessEnv): FabricSettings;
  parseEnvFile(text: string): Record<string, string>;
  /** what the running fabric was started with (run/fabric.json); `{}` when it is not running */
  readState?(): { settings?: Record<string, string> };
}

export interface Checkout {
  root: string;
  topology: Topology;
}

const isCheckout = (dir: string): boolean =>
  existsSync(join(dir, TOPOLOGY)) && existsSync(join(dir, "pnpm-workspace.yaml"));

/** The checkout containing `cwd` (or `cwd` itself), if any. */
export function findCheckoutRoot(cwd: string): string | undefined {
  let dir = resolve(cwd);
  for (let i = 0; i < MAX_DEPTH; i++) {
    if (isCheckout(dir)) return dir;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
  return undefined;
}

function checkTopology(value: unknown, file: string): Topology {
  const t = value as Partial<Topology> | null;
  const ok =
    t !== null &&
    typeof t === "object" &&
    typeof t.fabricSettings === "function" &&
    typeof t.parseEnvFile === "function" &&
    typeof t.TRUST_BUNDLE === "string" &&
    typeof t.ADMIN_TOKEN_FILE === "string" &&
    typeof t.CONFIG_DIR === "string" &&
    typeof t.CERTS_DIR === "string" &&
    Array.isArray(t.PORTS);
  if (!ok) throw usageError(`${file} is not the dev fabric's topology this fame version knows`);
  return t as Topology;
}

/**
 * The checkout named by `--root` (relative to `cwd`), else the one `cwd` is in; undefined when
 * there is none and none was asked for. A `--root` that is not a checkout is a usage error.
 */
export async function openCheckout(root: string | undefined, cwd: string): Promise<Checkout | undefined> {
  let dir: string | undefined;
  if (root !== undefined) {
    dir = isAbsolute(root) ? root : resolve(cwd, root);
    if (!isCheckout(dir)) {
      throw usageError(`--root ${root}: not a FAME checkout (no ${TOPOLOGY} and pnpm-workspace.yaml there)`);
    }
  } else {
    dir = findCheckoutRoot(cwd);
    if (dir === undefined) return undefined;
  }
  const file = join(dir, TOPOLOGY);
  const topology = checkTopology(await import(pathToFileURL(file).href), file);
  return { root: dir, topology };
}
