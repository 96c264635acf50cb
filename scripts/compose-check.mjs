#!/usr/bin/env node
// `make compose-check`: validates compose/docker-compose.yml (make start's topology) and
// compose/docker-compose.cluster.yml (make start-cluster's) with `docker compose config` when
// docker is installed (skipped otherwise), then checks what docker cannot: the topology is
// the one make runs, every file it names exists, and no service keeps a 127.0.0.1 URL from
// its YAML config (inside a container that would be the container itself).
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseEnvFile } from "./fabric/topology.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const composeDir = join(root, "compose");
const SINGLE = [
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
const CLUSTER = [
  "pki",
  "nats-config",
  "nats-1",
  "nats-2",
  "nats-3",
  "oauth2",
  "welcome",
  "ca",
  "sentinel1",
  "sentinel2",
  "sentinel3",
  "math-agent-replica1",
  "math-agent-replica2",
  "math-agent-replica3",
  "math-client",
];
const FILES = [
  { file: join(composeDir, "docker-compose.yml"), expected: SINGLE },
  { file: join(composeDir, "docker-compose.cluster.yml"), expected: CLUSTER, cluster: true },
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
  for (const { file } of FILES) {
    const r = spawnSync(dc.cmd, [...dc.args, "-f", file, "config", "--quiet"], { stdio: "inherit" });
    const shown = [dc.cmd, ...dc.args, "config"].join(" ");
    if (r.status === 0) out(`${shown}: compose/${basename(file)} is valid`);
    else problem(`${shown} -f compose/${basename(file)} failed (exit ${r.status})`);
  }
}

// The structural check needs the yaml parser the config package depends on.
let parse;
try {
  ({ parse } = createRequire(join(root, "packages", "config", "package.json"))("yaml"));
} catch {
  out("structure check skipped: dependencies not installed (make install)");
  process.exit(failed ? 1 : 0);
}

for (const { file, expected, cluster } of FILES) {
  const shown = `compose/${basename(file)}`;
  const doc = parse(readFileSync(file, "utf8"), { merge: true });
  const before = failed;
  failed = false;
  const names = checkFile(doc, expected, shown);
  if (cluster) checkCluster(doc, shown);
  const fileFailed = failed;
  failed = before || fileFailed;
  if (!fileFailed)
    out(`${shown}: ${names.length} services, files present, no loopback URL left from config/*.yml`);
}
if (!existsSync(join(composeDir, "entrypoint.sh"))) problem("compose/entrypoint.sh does not exist");
if (failed) process.exit(1);

function checkFile(doc, expected, shown) {
  const services = doc?.services ?? {};
  const names = Object.keys(services);
  for (const name of expected) if (!names.includes(name)) problem(`${shown}: service ${name} is missing`);
  for (const name of names) if (!expected.includes(name)) problem(`${shown}: unexpected service ${name}`);

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
  return names;
}

/** What the env files and `environment:` give a service (later wins, as in compose). */
function envOf(svc) {
  const env = {};
  for (const f of [svc.env_file ?? []].flat()) {
    const file = join(composeDir, typeof f === "string" ? f : f.path);
    if (existsSync(file)) Object.assign(env, parseEnvFile(readFileSync(file, "utf8")));
  }
  return Object.assign(env, svc.environment ?? {});
}

/**
 * The cluster's rules: sentinels and Welcome on NATS with the token from a file and on the
 * `state` network; each sentinel its own id and public URL; NATS monitoring published on the
 * host's loopback only; nodes neither on the state network nor given any NATS setting.
 */
function checkCluster(doc, shown) {
  const services = doc?.services ?? {};
  const natsNames = Object.keys(services).filter((n) => n.startsWith("nats-") && n !== "nats-config");
  const onState = (svc) => [svc.networks ?? []].flat().includes("state") || "state" in (svc.networks ?? {});
  const ids = new Set();
  const urls = new Set();
  for (const [name, svc] of Object.entries(services)) {
    const env = envOf(svc);
    const sharesState = name.startsWith("sentinel") || name === "welcome";
    if (sharesState) {
      if (env.FAME_STORAGE_PROFILE !== "nats")
        problem(`${shown}: ${name} does not set FAME_STORAGE_PROFILE=nats`);
      const servers = String(env.FAME_NATS_URL ?? "").split(",");
      for (const n of natsNames) {
        if (!servers.some((s) => s.includes(`//${n}:`)))
          problem(`${shown}: ${name}'s FAME_NATS_URL misses ${n}`);
      }
      if (!env.FAME_NATS_TOKEN_FILE) problem(`${shown}: ${name} has no FAME_NATS_TOKEN_FILE`);
      if (!onState(svc)) problem(`${shown}: ${name} is not on the state network`);
    } else if (!natsNames.includes(name) && name !== "nats-config") {
      if (onState(svc)) problem(`${shown}: ${name} is on the state network: nodes must not reach NATS`);
      if (Object.keys(env).some((k) => k.startsWith("FAME_NATS")))
        problem(`${shown}: ${name} gets NATS settings`);
    }
    if (name.startsWith("sentinel")) {
      if (ids.has(env.FAME_NODE_ID)) problem(`${shown}: FAME_NODE_ID ${env.FAME_NODE_ID} is used twice`);
      ids.add(env.FAME_NODE_ID);
      if (!String(env.FAME_PUBLIC_URL ?? "").startsWith(`wss://${name}:`))
        problem(`${shown}: ${name}'s FAME_PUBLIC_URL must be wss://${name}:…`);
      if (urls.has(env.FAME_PUBLIC_URL))
        problem(`${shown}: FAME_PUBLIC_URL ${env.FAME_PUBLIC_URL} is used twice`);
      urls.add(env.FAME_PUBLIC_URL);
    }
  }
  for (const n of natsNames) {
    const svc = services[n];
    if (!String([svc.command ?? []].flat().join(" ")).includes(`/etc/fame-nats/${n}.conf`))
      problem(`${shown}: ${n} does not run with /etc/fame-nats/${n}.conf (written by nats-config)`);
    if ((svc.volumes ?? []).some((v) => String(typeof v === "string" ? v : v.source).startsWith("certs")))
      problem(`${shown}: ${n} mounts the certs volume (the CA keys): it needs only nats-conf`);
    for (const p of svc.ports ?? []) {
      if (!String(typeof p === "string" ? p : p.host_ip).startsWith("127.0.0.1"))
        problem(`${shown}: ${n} publishes ${JSON.stringify(p)} beyond the host's loopback`);
    }
  }
  if (natsNames.length !== 3) problem(`${shown}: ${natsNames.length} NATS servers, expected 3`);
}
