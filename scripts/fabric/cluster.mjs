// The local cluster of make start-cluster: a 3-server NATS JetStream cluster, the identity
// services, 3 sentinels sharing state through NATS (FAME_STORAGE_PROFILE=nats) and 3 math-agent
// replicas Welcome places across them. Which processes, on which ports, with which environment.
import { NATS_TOKEN_FILE, natsSpecs } from "./nats.mjs";
import {
  ADMIN_TOKEN_FILE,
  fabricSettings,
  processes,
  REPLICAS,
  readState,
  SettingError,
} from "./topology.mjs";

const HOST = "127.0.0.1";
export const SIZE = 3;
export const SENTINELS = Array.from({ length: SIZE }, (_, i) => `sentinel${i + 1}`);
export const CLUSTER_REPLICAS = Array.from({ length: SIZE }, (_, i) => `math-agent-replica${i + 1}`);
export const NATS_NODES = Array.from({ length: SIZE }, (_, i) => `nats-${i + 1}`);
/** the cluster id (path segment of every node, part of NATS bucket names) */
export const CLUSTER_ID = "fabric";

/**
 * Port lists of the cluster: FAME_SENTINEL_PORTS / FAME_NATS_PORTS / FAME_NATS_CLUSTER_PORTS /
 * FAME_NATS_MONITOR_PORTS as "a,b,c", else three in a row from FAME_SENTINEL_PORT (8000),
 * FAME_NATS_PORT (4222), FAME_NATS_CLUSTER_PORT (6222), FAME_NATS_MONITOR_PORT (8222).
 */
export const CLUSTER_PORT_LISTS = [
  { key: "sentinels", list: "FAME_SENTINEL_PORTS", base: "FAME_SENTINEL_PORT", fallback: 8000 },
  { key: "nats", list: "FAME_NATS_PORTS", base: "FAME_NATS_PORT", fallback: 4222 },
  { key: "natsCluster", list: "FAME_NATS_CLUSTER_PORTS", base: "FAME_NATS_CLUSTER_PORT", fallback: 6222 },
  { key: "natsMonitor", list: "FAME_NATS_MONITOR_PORTS", base: "FAME_NATS_MONITOR_PORT", fallback: 8222 },
];

function portList(raw, name) {
  const parts = raw.split(",").map((p) => p.trim());
  if (parts.length !== SIZE || parts.some((p) => !/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 65535)) {
    throw new SettingError(`${name} must be ${SIZE} port numbers separated by commas, got "${raw}"`);
  }
  return parts.map(Number);
}

/**
 * The cluster's settings: the single fabric's (identity service ports, timeouts) plus the port
 * lists, from the environment, then what the running cluster was started with (run/fabric.json),
 * then config/fabric.env, then defaults.
 */
export function clusterSettings(env = process.env, { useState = true } = {}) {
  const base = fabricSettings(env, { useState });
  const state = useState ? readState() : {};
  const pick = (name) => env[name] || state.settings?.[name] || base.fileEnv[name] || undefined;
  const ports = { ...base.ports };
  for (const p of CLUSTER_PORT_LISTS) {
    const list = pick(p.list);
    if (list !== undefined) {
      ports[p.key] = portList(list, p.list);
      continue;
    }
    const first = p.key === "sentinels" ? base.ports.sentinel : Number(pick(p.base) ?? p.fallback);
    if (!Number.isInteger(first) || first < 1 || first > 65535 - SIZE) {
      throw new SettingError(`${p.base} must be a port number, got "${pick(p.base)}"`);
    }
    ports[p.key] = Array.from({ length: SIZE }, (_, i) => first + i);
  }
  const all = [ports.oauth2, ports.welcome, ports.ca, ...CLUSTER_PORT_LISTS.flatMap((p) => ports[p.key])];
  const dup = all.find((p, i) => all.indexOf(p) !== i);
  if (dup !== undefined) throw new SettingError(`port ${dup} is given twice in the cluster's settings`);
  ports.sentinel = ports.sentinels[0];
  const attach = (port) => `wss://${HOST}:${port}/fame/v1/attach/ws/downstream`;
  return {
    ...base,
    ports,
    clusterId: CLUSTER_ID,
    natsUrls: ports.nats.map((p) => `nats://${HOST}:${p}`),
    sentinelUrls: ports.sentinels.map((p) => `https://${HOST}:${p}`),
    attachUrls: ports.sentinels.map(attach),
    urls: {
      ...base.urls,
      sentinel: `https://${HOST}:${ports.sentinels[0]}`,
      attach: attach(ports.sentinels[0]),
    },
  };
}

/** What make start-cluster records so later commands find the cluster on the same ports. */
export function clusterStateToSave(settings) {
  const saved = {
    FAME_OAUTH2_PORT: String(settings.ports.oauth2),
    FAME_WELCOME_PORT: String(settings.ports.welcome),
    FAME_CA_PORT: String(settings.ports.ca),
    FAME_SENTINEL_PORT: String(settings.ports.sentinels[0]),
  };
  for (const p of CLUSTER_PORT_LISTS) saved[p.list] = settings.ports[p.key].join(",");
  return { mode: "cluster", settings: saved, startedAt: new Date().toISOString() };
}

/** Whether run/fabric.json says a cluster was started (make stop/status/run follow it). */
export const clusterRecorded = () => readState().mode === "cluster";

/**
 * The settings sentinels and Welcome share: NATS JetStream KV with 3 copies of every bucket,
 * the token from certs/secrets (a file: never in the environment or the process table).
 */
function sharedStateEnv(settings) {
  return {
    FAME_STORAGE_PROFILE: "nats",
    FAME_NATS_URL: settings.natsUrls.join(","),
    FAME_NATS_REPLICAS: String(SIZE),
    FAME_CLUSTER_ID: settings.clusterId,
    FAME_NATS_TOKEN_FILE: NATS_TOKEN_FILE,
  };
}

/**
 * Start order (stop is the reverse, replicas first): NATS, oauth2, welcome, ca, sentinels,
 * replicas. The single fabric's specs are reused with the cluster's environment added.
 */
export function clusterProcesses(settings, natsBinary) {
  const single = processes(settings.ports);
  const byName = (name) => single.find((s) => s.name === name);
  const shared = sharedStateEnv(settings);
  const sentinel = byName("sentinel");
  const replica = byName(REPLICAS[0]);
  return [
    ...natsSpecs(settings.ports, natsBinary),
    byName("oauth2"),
    { ...byName("welcome"), extraEnv: { ...shared, FAME_TRANSPORT_URL: settings.attachUrls[0] } },
    byName("ca"),
    ...SENTINELS.map((name, i) => ({
      ...sentinel,
      name,
      kind: "sentinel",
      port: settings.ports.sentinels[i],
      url: settings.sentinelUrls[i],
      health: `${settings.sentinelUrls[i]}/health`,
      status: `${settings.sentinelUrls[i]}/fame/v1/status`,
      defaultEnv: { FAME_SENTINEL_ADMIN_TOKEN_FILE: ADMIN_TOKEN_FILE },
      extraEnv: {
        ...shared,
        FAME_NODE_ID: name,
        FAME_SENTINEL_PORT: String(settings.ports.sentinels[i]),
        FAME_PUBLIC_URL: settings.attachUrls[i],
      },
    })),
    ...CLUSTER_REPLICAS.map((name) => ({ ...replica, name, extraEnv: { FAME_REPLICA_NAME: name } })),
  ];
}

/** The environment of a cluster process: the single fabric's layers, then the cluster's own. */
export function clusterEnv(spec, settings, processEnv, opts) {
  const env = processEnv(spec, settings, opts);
  // processEnv sets every process's FAME_SENTINEL_PORT to the first sentinel; a sentinel listens on its own
  if (spec.kind === "sentinel") env.FAME_SENTINEL_PORT = spec.extraEnv.FAME_SENTINEL_PORT;
  return env;
}

export const isReplica = (spec) => CLUSTER_REPLICAS.includes(spec.name);

/**
 * Every name make stop may find a PID file for, either fabric's: replicas first, NATS last.
 * `settings` may be the single fabric's: the cluster's names and scripts (what a PID is checked
 * against) do not depend on its ports, so its defaults do.
 */
export function everyProcess(settings, natsBinary) {
  let cluster = [];
  try {
    const own = settings.natsUrls ? settings : clusterSettings({}, { useState: false });
    cluster = clusterProcesses(own, natsBinary);
  } catch (err) {
    // config/fabric.env's ports clash with the cluster's defaults: no cluster can be running
    if (!(err instanceof SettingError)) throw err;
  }
  const single = processes(settings.ports).filter((s) => !cluster.some((c) => c.name === s.name));
  const all = [...single, ...cluster];
  const rank = (s) => (isReplica(s) ? 0 : s.kind === "nats" ? 3 : s.name.startsWith("sentinel") ? 1 : 2);
  const order = ["ca", "welcome", "oauth2"];
  return all.sort(
    (a, b) =>
      rank(a) - rank(b) || order.indexOf(a.name) - order.indexOf(b.name) || a.name.localeCompare(b.name),
  );
}
