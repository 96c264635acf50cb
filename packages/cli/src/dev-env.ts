/**
 * The environment a node needs to join a checkout's running dev fabric (`fame env`): what
 * `make start` gives its own client and replicas, with absolute paths so it works anywhere.
 */
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { ConfigError, envWithYaml, loadYamlConfig, pick, readProfiles } from "@fame/config";
import type { Checkout } from "./checkout.js";
import { CliError, EXIT, usageError } from "./exit-codes.js";

export interface DevEnvOptions {
  /** the agent credential (may serve `*.fame.fabric`) instead of the call-only client one */
  agent?: boolean;
  /** add FAME_SENTINEL_ADMIN_TOKEN_FILE (the path, never the token) for status, pins and drain */
  admin?: boolean;
}

/** Variables in the order `fame env` prints them. */
export type EnvList = [name: string, value: string][];

function credentials(checkout: Checkout, agent: boolean): Record<string, string> {
  const { CERTS_DIR, parseEnvFile } = checkout.topology;
  const file = join(CERTS_DIR, agent ? "agent.env" : "client.env");
  // make pki before the agent/client split wrote only dev.env (the client credential)
  const chosen = existsSync(file) || agent ? file : join(CERTS_DIR, "dev.env");
  if (!existsSync(chosen)) {
    throw new CliError(
      `${chosen} is missing: run make start (or make pki) in ${checkout.root} first`,
      EXIT.usage,
    );
  }
  return parseEnvFile(readFileSync(chosen, "utf8"));
}

export function devFabricEnv(
  checkout: Checkout,
  options: DevEnvOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): EnvList {
  const t = checkout.topology;
  const agent = options.agent === true;
  let settings: ReturnType<typeof t.fabricSettings>;
  try {
    settings = t.fabricSettings(env);
  } catch (err) {
    throw usageError((err as Error).message);
  }
  if (!existsSync(t.TRUST_BUNDLE)) {
    throw usageError(`${t.TRUST_BUNDLE} is missing: run make start (or make pki) in ${checkout.root} first`);
  }
  // The same node file make start gives its client or replicas, read with the fabric's ports.
  const yaml = join(t.CONFIG_DIR, agent ? "math-agent.yml" : "client.yml");
  const base: NodeJS.ProcessEnv = { FAME_CONFIG: yaml };
  for (const p of t.PORTS) base[p.env] = String(settings.ports[p.key]);
  let fromYaml: NodeJS.ProcessEnv;
  let tree: Record<string, unknown>;
  try {
    tree = loadYamlConfig(base).tree;
    fromYaml = envWithYaml(base);
  } catch (err) {
    throw usageError(err instanceof ConfigError ? `${yaml}: ${err.message}` : (err as Error).message);
  }
  const profiles = readProfiles(fromYaml, tree);
  const out: EnvList = [
    ["FAME_SECURITY_PROFILE", profiles.securityProfile],
    ["FAME_ADMISSION_PROFILE", profiles.admissionProfile],
  ];
  const skip = new Set(["FAME_CONFIG", "FAME_CA_CERTS", ...t.PORTS.map((p) => p.env)]);
  for (const [name, value] of Object.entries(fromYaml)) {
    if (!skip.has(name) && name.startsWith("FAME_") && value !== undefined) out.push([name, value]);
  }
  for (const [name, value] of Object.entries(credentials(checkout, agent))) out.push([name, value]);
  const caFile = fromYaml["FAME_CA_CERTS"];
  out.push([
    "FAME_CA_CERTS",
    caFile && !isAbsolute(caFile) ? resolve(checkout.root, caFile) : (caFile ?? t.TRUST_BUNDLE),
  ]);
  out.push(["FAME_SENTINEL_URL", settings.urls.attach]);
  if (agent) {
    const logicals = pick(tree, "node.requestedLogicals");
    if (Array.isArray(logicals) && logicals.length > 0) {
      out.push(["FAME_REQUESTED_LOGICALS", logicals.map(String).join(",")]);
    }
  }
  if (options.admin === true) out.push(["FAME_SENTINEL_ADMIN_TOKEN_FILE", t.ADMIN_TOKEN_FILE]);
  return out;
}
