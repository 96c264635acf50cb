import { ConfigError } from "./errors.js";
import { readSettingFile } from "./setting-file.js";
import { pick, readEnum, readInt, readOptionalString, readString } from "./settings.js";

/**
 * Where the fabric's shared state lives: `memory` (one sentinel, nothing to install) or
 * `nats` (a cluster of sentinels sharing NATS JetStream KV buckets).
 */
export const STORAGE_PROFILES = ["memory", "nats"] as const;
export type StorageProfile = (typeof STORAGE_PROFILES)[number];

/** a cluster id is a path segment (`/<clusterId>/<systemId>`) and part of NATS bucket names */
const CLUSTER_ID = /^[A-Za-z0-9_]{1,32}$/;
const DEFAULT_CLUSTER_ID = "fabric";
/** JetStream keeps at most 5 copies of a stream */
const MAX_REPLICAS = 5;

/** How the sentinels authenticate to NATS; secrets come from files, never from the environment. */
export type NatsAuth = { kind: "token"; token: string } | { kind: "user"; user: string; pass: string };

export type StorageSettings =
  | { profile: "memory"; clusterId: string }
  | {
      profile: "nats";
      clusterId: string;
      /** FAME_NATS_URL, split on commas: every server the client may connect to */
      servers: string[];
      /** copies JetStream keeps of each KV bucket (FAME_NATS_REPLICAS) */
      replicas: number;
      auth: NatsAuth | undefined;
    };

/** The attach-ticket audience every sentinel of a cluster accepts (and Welcome issues). */
export function clusterAudience(clusterId: string): string {
  return `fame-cluster:${clusterId}`;
}

/**
 * The storage settings every process of a cluster shares (sentinels, Welcome):
 * FAME_STORAGE_PROFILE or the seed's `node.storage.profile` (the environment wins), then, for
 * `nats`, FAME_NATS_URL, FAME_NATS_REPLICAS and the credentials. With `memory` the NATS
 * settings are not read, so a shared env file naming them leaves a single sentinel unchanged.
 */
export function readStorageSettings(env: NodeJS.ProcessEnv, tree: Record<string, unknown>): StorageSettings {
  const profile = readEnum(
    env["FAME_STORAGE_PROFILE"] || pick(tree, "node.storage.profile"),
    "FAME_STORAGE_PROFILE",
    STORAGE_PROFILES,
    "memory",
  );
  const clusterId = readString(env["FAME_CLUSTER_ID"], "FAME_CLUSTER_ID", DEFAULT_CLUSTER_ID);
  if (!CLUSTER_ID.test(clusterId)) {
    throw new ConfigError("FAME_CLUSTER_ID", `must be 1-32 characters of A-Z a-z 0-9 _, got "${clusterId}"`);
  }
  if (profile === "memory") return { profile, clusterId };
  const rawServers = readOptionalString(env["FAME_NATS_URL"], "FAME_NATS_URL");
  if (rawServers === undefined) {
    throw new ConfigError(
      "FAME_NATS_URL",
      "is required with FAME_STORAGE_PROFILE=nats (comma-separated nats:// URLs of the cluster's servers)",
    );
  }
  return {
    profile,
    clusterId,
    servers: natsServers(rawServers),
    replicas: readInt(env["FAME_NATS_REPLICAS"], "FAME_NATS_REPLICAS", {
      fallback: 1,
      min: 1,
      max: MAX_REPLICAS,
    }),
    auth: natsAuth(env),
  };
}

function natsServers(raw: string): string[] {
  const servers: string[] = [];
  for (const part of raw.split(",")) {
    const s = part.trim();
    if (s === "") continue;
    let url: URL;
    try {
      url = new URL(s);
    } catch {
      throw new ConfigError("FAME_NATS_URL", `"${s}" is not a URL (expected nats://host:port)`);
    }
    if (url.protocol !== "nats:" && url.protocol !== "tls:") {
      throw new ConfigError("FAME_NATS_URL", `"${s}" must use nats:// or tls://`);
    }
    // credentials in a URL would end up in logs and process listings
    if (url.username !== "" || url.password !== "") {
      throw new ConfigError(
        "FAME_NATS_URL",
        "must not carry credentials: use FAME_NATS_TOKEN_FILE or FAME_NATS_USER with FAME_NATS_PASSWORD_FILE",
      );
    }
    if (url.hostname === "" || url.port === "") {
      throw new ConfigError("FAME_NATS_URL", `"${s}" must name a host and a port`);
    }
    servers.push(`${url.protocol}//${url.host}`);
  }
  if (servers.length === 0) throw new ConfigError("FAME_NATS_URL", "names no server");
  return servers;
}

function natsAuth(env: NodeJS.ProcessEnv): NatsAuth | undefined {
  const tokenFile = readOptionalString(env["FAME_NATS_TOKEN_FILE"], "FAME_NATS_TOKEN_FILE");
  const user = readOptionalString(env["FAME_NATS_USER"], "FAME_NATS_USER");
  const passFile = readOptionalString(env["FAME_NATS_PASSWORD_FILE"], "FAME_NATS_PASSWORD_FILE");
  if (tokenFile !== undefined && (user !== undefined || passFile !== undefined)) {
    throw new ConfigError(
      "FAME_NATS_TOKEN_FILE",
      "and FAME_NATS_USER/FAME_NATS_PASSWORD_FILE are both set: NATS takes one kind of credentials, choose one",
    );
  }
  if (tokenFile !== undefined) {
    return { kind: "token", token: secretFrom(tokenFile, "FAME_NATS_TOKEN_FILE") };
  }
  if (user === undefined && passFile === undefined) return undefined;
  if (user === undefined) throw new ConfigError("FAME_NATS_USER", "is required with FAME_NATS_PASSWORD_FILE");
  if (passFile === undefined)
    throw new ConfigError("FAME_NATS_PASSWORD_FILE", "is required with FAME_NATS_USER");
  return { kind: "user", user, pass: secretFrom(passFile, "FAME_NATS_PASSWORD_FILE") };
}

function secretFrom(file: string, setting: string): string {
  const secret = readSettingFile(file, setting).trim();
  if (secret === "") throw new ConfigError(setting, `${file} is empty`);
  return secret;
}
