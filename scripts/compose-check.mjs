#!/usr/bin/env node
// `make compose-check`: validates compose/docker-compose.yml with
// `docker compose config` when docker is installed (skipped otherwise), then
// checks what docker cannot: the topology is the one make start runs, every
// file it names exists, and no service keeps a 127.0.0.1 URL from its YAML
// config (inside a container that would be the container itself).
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseEnvFile } from "./fabric/topology.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const composeDir = join(root, "compose");
const composeFile = join(composeDir, "docker-compose.yml");
const EXPECTED = [
  "pki",
  "oauth2",
  "welcome",
  "ca",
  "sentinel",
  "math-agent-replica1",
  "math-agent-replica2",
  "math-client",
  // --profile observability: Prometheus scraping the sentinel, Grafana showing compose/grafana
  "prometheus",
  "grafana",
];
const out = (line) => process.stdout.write(`${line}\n`);
let failed = false;
const problem = (line) => {
  failed = true;
  out(`  ✗ ${line}`);
};

function dockerCompose() {
  const ok = (cmd, args) => spawnSync(cmd, args, { stdio: "ignore" }).status === 0;
  if (!ok("docker", ["--version"])) return { skipped: "docker not installed: skipped" };
  if (ok("docker", ["compose", "version"])) return { cmd: "docker", args: ["compose"] };
  if (ok("docker-compose", ["version"])) return { cmd: "docker-compose", args: [] };
  return { skipped: "docker is installed without the compose plugin: docker compose config skipped" };
}

const dc = dockerCompose();
if (dc.skipped) {
  out(dc.skipped);
} else {
  const r = spawnSync(dc.cmd, [...dc.args, "-f", composeFile, "config", "--quiet"], { stdio: "inherit" });
  const shown = [dc.cmd, ...dc.args, "config"].join(" ");
  if (r.status === 0) out(`${shown}: compose/docker-compose.yml is valid`);
  else problem(`${shown} failed (exit ${r.status})`);
}

// The structural check needs the yaml parser the config package depends on.
let parse;
try {
  ({ parse } = createRequire(join(root, "packages", "config", "package.json"))("yaml"));
} catch {
  out("structure check skipped: dependencies not installed (make install)");
  process.exit(failed ? 1 : 0);
}

const doc = parse(readFileSync(composeFile, "utf8"), { merge: true });
const services = doc?.services ?? {};
const names = Object.keys(services);
for (const name of EXPECTED) if (!names.includes(name)) problem(`service ${name} is missing`);
for (const name of names) if (!EXPECTED.includes(name)) problem(`unexpected service ${name}`);

for (const [name, svc] of Object.entries(services)) {
  if (svc.build) {
    const context = join(composeDir, svc.build.context ?? ".");
    const dockerfile = join(context, svc.build.dockerfile ?? "Dockerfile");
    if (!existsSync(dockerfile)) problem(`${name}: ${dockerfile} does not exist`);
  }
  for (const v of svc.volumes ?? []) {
    const source = typeof v === "string" ? v.split(":")[0] : v.source;
    if (source?.startsWith(".") && !existsSync(join(composeDir, source)))
      problem(`${name}: mounts ${source}, which does not exist`);
  }
  for (const dep of Object.keys(svc.depends_on ?? {})) {
    if (!names.includes(dep)) problem(`${name}: depends on unknown service ${dep}`);
  }
  const env = {};
  for (const f of [svc.env_file ?? []].flat()) {
    const file = join(composeDir, typeof f === "string" ? f : f.path);
    if (!existsSync(file)) problem(`${name}: env file ${file} does not exist`);
    else Object.assign(env, parseEnvFile(readFileSync(file, "utf8")));
  }
  Object.assign(env, svc.environment ?? {});
  if (!env.FAME_CONFIG) continue;
  const configFile = join(root, env.FAME_CONFIG);
  if (!existsSync(configFile)) {
    problem(`${name}: FAME_CONFIG ${env.FAME_CONFIG} does not exist`);
    continue;
  }
  const block = parse(readFileSync(configFile, "utf8"))?.env ?? {};
  for (const [key, value] of Object.entries(block)) {
    if (String(value).includes("127.0.0.1") && env[key] === undefined) {
      problem(`${name}: ${key} keeps ${env.FAME_CONFIG}'s loopback value; set it in its env file`);
    }
  }
}
if (!existsSync(join(composeDir, "entrypoint.sh"))) problem("compose/entrypoint.sh does not exist");
if (failed) process.exit(1);
out(`structure: ${names.length} services, files present, no loopback URL left from config/*.yml`);
