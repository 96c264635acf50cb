// The local demo fabric: which processes make starts, in what order, how each
// is configured and how its health is judged. Node built-ins only, so `make stop`
// works even when nothing is installed or built.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const RUN_DIR = join(ROOT, "run");
export const CONFIG_DIR = join(ROOT, "config");
export const CERTS_DIR = join(ROOT, "certs");
export const TRUST_BUNDLE = join(CERTS_DIR, "trust-bundle.pem");
/** the sentinel's operator token (make pki): its drain, status and metrics endpoints need it */
export const ADMIN_TOKEN_FILE = join(CERTS_DIR, "secrets", "admin-token");
/** what the running fabric was started with, so later commands find it on the same ports */
const STATE_FILE = join(RUN_DIR, "fabric.json");
const HOST = "127.0.0.1";

/** Paths are shown relative to the repository, as a user types them. */
export const rel = (p) => relative(ROOT, p) || ".";

export const PORTS = [
  { key: "oauth2", env: "FAME_OAUTH2_PORT", fallback: 8443 },
  { key: "welcome", env: "FAME_WELCOME_PORT", fallback: 8444 },
  { key: "ca", env: "FAME_CA_PORT", fallback: 8445 },
  { key: "sentinel", env: "FAME_SENTINEL_PORT", fallback: 8000 },
];

export const REPLICAS = ["math-agent-replica1", "math-agent-replica2"];

/**
 * Start order; stop is the reverse. `health` is an HTTPS URL answering 2xx when
 * the process is ready; replicas are ready once they log "math agent ready".
 */
export function processes(ports) {
  const service = (name, script, port) => ({
    name,
    script: join(ROOT, script),
    config: join(CONFIG_DIR, `${name}.yml`),
    envFile: name,
    port,
    url: `https://${HOST}:${port}`,
    health: `https://${HOST}:${port}/health`,
  });
  return [
    service("oauth2", "services/oauth2/dist/bin.js", ports.oauth2),
    service("welcome", "services/welcome/dist/bin.js", ports.welcome),
    service("ca", "services/ca/dist/bin.js", ports.ca),
    {
      ...service("sentinel", "packages/sentinel/dist/bin.js", ports.sentinel),
      // the file, not the token: the secret stays out of the process table and of other processes' env
      defaultEnv: { FAME_SENTINEL_ADMIN_TOKEN_FILE: ADMIN_TOKEN_FILE },
    },
    ...REPLICAS.map((name) => ({
      name,
      script: join(ROOT, "services/math-agent/dist/bin.js"),
      config: join(CONFIG_DIR, "math-agent.yml"),
      envFile: "math-agent",
      // agents may serve pools (config/policy.yml); clients may only call
      credentials: "agent.env",
      readyLine: '"msg":"math agent ready"',
      // a short drain keeps `make stop` quick; pinned channels move on their own
      defaultEnv: { FAME_DRAIN_TIMEOUT_MS: "2000" },
      extraEnv: { FAME_REPLICA_NAME: name },
    })),
  ];
}

export const clientSpec = () => ({
  name: "math-client",
  script: join(ROOT, "services/math-client/dist/bin.js"),
  config: join(CONFIG_DIR, "client.yml"),
  envFile: "client",
  credentials: "client.env",
});

/** Parses KEY=VALUE lines (comments, blanks and an optional `export ` allowed). */
export function parseEnvFile(text) {
  const out = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2];
    if (/^(["']).*\1$/.test(value)) value = value.slice(1, -1);
    out[m[1]] = value;
  }
  return out;
}

function readEnvFile(file) {
  return existsSync(file) ? parseEnvFile(readFileSync(file, "utf8")) : {};
}

export function readState() {
  try {
    return JSON.parse(readFileSync(STATE_FILE, "utf8"));
  } catch {
    return {};
  }
}

export const stateFile = () => STATE_FILE;

/**
 * The bearer token for the sentinel's operator endpoints: FAME_SENTINEL_ADMIN_TOKEN if set,
 * else the dev token make pki wrote; undefined when neither exists.
 */
export function adminToken(env = process.env) {
  if (env.FAME_SENTINEL_ADMIN_TOKEN) return env.FAME_SENTINEL_ADMIN_TOKEN;
  try {
    return readFileSync(ADMIN_TOKEN_FILE, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

export class SettingError extends Error {}

/**
 * Fabric-wide settings: the environment, then what the running fabric was
 * started with (run/fabric.json), then config/fabric.env, then defaults.
 */
export function fabricSettings(env = process.env, { useState = true } = {}) {
  const file = readEnvFile(join(CONFIG_DIR, "fabric.env"));
  const state = useState ? readState() : {};
  const pick = (name) => env[name] || state.settings?.[name] || file[name] || undefined;
  const ports = {};
  for (const p of PORTS) {
    const raw = pick(p.env) ?? String(p.fallback);
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < 1 || n > 65535) {
      throw new SettingError(`${p.env} must be a port number (1-65535), got "${raw}"`);
    }
    ports[p.key] = n;
  }
  const seen = new Map();
  for (const p of PORTS) {
    const other = seen.get(ports[p.key]);
    if (other) throw new SettingError(`${p.env} and ${other} are both ${ports[p.key]}`);
    seen.set(ports[p.key], p.env);
  }
  const seconds = (name, fallback, max) => {
    const raw = pick(name) ?? String(fallback);
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < 1 || n > max) {
      throw new SettingError(`${name} must be a whole number of seconds (1-${max}), got "${raw}"`);
    }
    return n;
  };
  return {
    ports,
    startTimeoutSec: seconds("FAME_START_TIMEOUT_SEC", 30, 600),
    stopTimeoutSec: seconds("FAME_STOP_TIMEOUT_SEC", 15, 600),
    fileEnv: file,
    urls: {
      oauth2: `https://${HOST}:${ports.oauth2}`,
      welcome: `https://${HOST}:${ports.welcome}`,
      ca: `https://${HOST}:${ports.ca}`,
      sentinel: `https://${HOST}:${ports.sentinel}`,
      attach: `wss://${HOST}:${ports.sentinel}/fame/v1/attach/ws/downstream`,
      status: `https://${HOST}:${ports.sentinel}/fame/v1/status`,
    },
  };
}

/**
 * What `make start` records so that run/status/restart use the same ports, and the caller's
 * FAME_* and OTEL_* variables (log level, trace exporter, …) so that `make restart-replica` from
 * another shell starts the replica as `make start` did. run/ is 0700 and the file 0600.
 */
export function stateToSave(settings, env = process.env) {
  const saved = {};
  for (const p of PORTS) saved[p.env] = String(settings.ports[p.key]);
  const startEnv = Object.fromEntries(
    Object.entries(env).filter(([k, v]) => /^(FAME|OTEL)_/.test(k) && typeof v === "string" && !(k in saved)),
  );
  return { settings: saved, startEnv, startedAt: new Date().toISOString() };
}

/** The environment a process restarted later gets: what `make start` saw, then the caller's. */
export function restartEnv(env = process.env) {
  const recorded = readState().startEnv;
  return recorded !== null && typeof recorded === "object" ? { ...recorded, ...env } : env;
}

/**
 * The caller's FAME_* and OTEL_* settings that differ from what the running fabric was started
 * with (run/fabric.json), by name (values may be secrets): a variable the caller sets anew or
 * to another value. One the caller's shell merely lacks is no change (restartEnv fills it in).
 * Ports are compared apart (start refuses to move them).
 */
export function changedSettings(env = process.env, state = readState()) {
  const recorded = state.startEnv !== null && typeof state.startEnv === "object" ? state.startEnv : {};
  const ports = new Set(PORTS.map((p) => p.env));
  const changed = [];
  for (const [k, v] of Object.entries(env)) {
    if (!/^(FAME|OTEL)_/.test(k) || typeof v !== "string" || ports.has(k)) continue;
    if (recorded[k] !== v) changed.push(k);
  }
  return changed.sort();
}

const onlyFame = (env) => Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith("FAME_")));

/**
 * What `fame env` puts in a shell so that a node elsewhere joins this fabric: who it is and where
 * the fabric is. The fabric's own processes take these from the checkout, never from the shell:
 * after the README's `eval "$(pnpm -s fame env)"` the client credential would replace a
 * replica's agent credential (its admission refused), and a shell set up for another checkout's
 * fabric would send this one's client there.
 */
export const NODE_LOCATOR_KEYS = Object.freeze([
  "FAME_ADMISSION_CLIENT_ID",
  "FAME_ADMISSION_CLIENT_SECRET",
  "FAME_ADMISSION_TOKEN_URL",
  "FAME_ADMISSION_SERVICE_URL",
  "FAME_SENTINEL_URL",
  "FAME_CA_CERTS",
  "FAME_REQUESTED_LOGICALS",
  "FAME_SENTINEL_ADMIN_TOKEN_FILE",
]);

function withoutLocators(env) {
  const out = { ...env };
  for (const k of NODE_LOCATOR_KEYS) delete out[k];
  return out;
}

/**
 * The shell's FAME_SENTINEL_URL when it names another fabric than this checkout's (a shell set
 * up with another checkout's `fame env`); undefined when unset or this fabric's own.
 */
export function foreignSentinelUrl(settings, env = process.env) {
  const url = env.FAME_SENTINEL_URL;
  return url && url !== settings.urls.attach ? url : undefined;
}

/**
 * The dev admission credentials a node uses: certs/agent.env for agents, certs/client.env for
 * the client, certs/dev.env (the client's too) when that file is missing. The services (sentinel,
 * OAuth2, Welcome, CA) are not nodes: they get no client secret.
 */
function credentialsOf(spec) {
  if (!spec.credentials) return {};
  const file = join(CERTS_DIR, spec.credentials);
  return readEnvFile(existsSync(file) ? file : join(CERTS_DIR, "dev.env"));
}

/**
 * The environment one process runs with. Layers, weakest first: the dev
 * admission credentials (certs/agent.env or client.env), config/fabric.env, config/<proc>.env,
 * the caller's FAME_* variables but those naming a node and its fabric (NODE_LOCATOR_KEYS); then
 * what the supervisor decides (ports, FAME_CONFIG, JSON logs). Anything not set here comes from
 * the YAML file.
 */
export function processEnv(spec, settings, { background = true, env = process.env } = {}) {
  const own = readEnvFile(join(CONFIG_DIR, `${spec.envFile}.env`));
  const shell = withoutLocators(env);
  const out = {
    ...shell,
    ...spec.defaultEnv,
    ...credentialsOf(spec),
    ...settings.fileEnv,
    ...own,
    ...onlyFame(shell),
    ...spec.extraEnv,
  };
  for (const p of PORTS) out[p.env] = String(settings.ports[p.key]);
  // a FAME_CONFIG in the caller's shell is meant for something else: each process has its own
  out.FAME_CONFIG = own.FAME_CONFIG || spec.config;
  if (background) out.FAME_LOG_PRETTY = "0";
  return out;
}
