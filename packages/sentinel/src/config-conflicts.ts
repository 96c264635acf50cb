import {
  type AdmissionProfile,
  ConfigError,
  readBool,
  type SecurityProfile,
  type StorageSettings,
} from "@fame/config";
import { isSid } from "@fame/protocol";
import { parseStickinessConfig, StickinessConfigError } from "./stickiness/config.js";

/**
 * Settings that are each valid but contradict one another. Each would let the sentinel start
 * and then fail at run time (every channel refused, a bearer secret on a plain connection, a
 * guard that guards nothing); refused at start instead (exit 2), naming both settings.
 */
export interface ConflictingSettings {
  securityProfile: SecurityProfile;
  admissionProfile: AdmissionProfile;
  /** the raw `node.stickiness` block */
  stickiness: unknown;
  /** null when FAME_DEV_INSECURE_HTTP turned TLS off */
  tls: object | null;
  directToken: string | undefined;
  sentinelId: string;
  storage: StorageSettings;
  publicUrl: string | undefined;
}

export function checkConfigConflicts(config: ConflictingSettings, env: NodeJS.ProcessEnv): void {
  // The id is the sid of every envelope the sentinel sends (acks, key announces), the first
  // segment of its nodes' paths and, in a cluster, a NATS subject token: nodes refuse an
  // envelope whose sid is not base62, so any other id starts cleanly and then admits no one.
  if (!isSid(config.sentinelId)) {
    throw new ConfigError(
      "FAME_NODE_ID",
      `"${config.sentinelId}" cannot name a sentinel: use 1-64 letters and digits (it is the sid of the sentinel's own envelopes)`,
    );
  }
  checkClusterConflicts(config);
  const profile = config.securityProfile;
  if (config.stickiness !== undefined && config.stickiness !== null) {
    let level: string;
    try {
      level = parseStickinessConfig(config.stickiness).securityLevel;
    } catch (err) {
      if (err instanceof StickinessConfigError)
        throw new ConfigError(`node.stickiness.${err.key}`, err.message);
      throw err;
    }
    // open nodes present no keys: no replica could sign the AFT a strict table insists on
    if (profile === "open" && level === "strict") {
      throw new ConfigError(
        "node.stickiness.security_level",
        `strict needs signed affinity tags, but FAME_SECURITY_PROFILE is open (nodes have no signing keys): ` +
          `use signed-optional or sid-only, or an overlay profile`,
      );
    }
  }
  if (config.tls === null && config.admissionProfile !== "none") {
    throw new ConfigError(
      "FAME_DEV_INSECURE_HTTP",
      `plain ws:// would carry the ${config.admissionProfile} admission's bearer ` +
        `${config.admissionProfile === "welcome" ? "attach tickets" : "token"} in the clear: ` +
        `FAME_ADMISSION_PROFILE=${config.admissionProfile} needs TLS`,
    );
  }
  if (config.directToken !== undefined && config.admissionProfile !== "direct") {
    throw new ConfigError(
      "FAME_ADMISSION_TOKEN",
      `is set but FAME_ADMISSION_PROFILE is ${config.admissionProfile}, which never checks it: ` +
        `unset it or use the direct profile`,
    );
  }
  if (
    config.securityProfile !== "open" &&
    readBool(env["FAME_DEV_INSECURE_HTTP"], "FAME_DEV_INSECURE_HTTP", false)
  ) {
    // signatures prove who sent a frame, not that nobody read it: an overlay profile over plain
    // ws:// exposes every plaintext payload and sid, which the profile promises to protect
    throw new ConfigError(
      "FAME_DEV_INSECURE_HTTP",
      `plain ws:// contradicts FAME_SECURITY_PROFILE=${config.securityProfile}: only the open profile may run without TLS`,
    );
  }
}

/** A sentinel of a cluster must say where nodes reach it and have an id the others can address. */
function checkClusterConflicts(config: ConflictingSettings): void {
  if (config.storage.profile !== "nats") return;
  if (config.publicUrl === undefined) {
    // Welcome hands nodes this URL; without it no node could be placed on this sentinel
    throw new ConfigError(
      "FAME_PUBLIC_URL",
      "is required with FAME_STORAGE_PROFILE=nats: the wss:// attach URL nodes use for this sentinel (node.public_url)",
    );
  }
}
