export { ConfigError } from "./errors.js";
export { camelKey, interpolateEnv, normalizeKeys } from "./interpolate.js";
export { type KnownKeys, NODE_YAML_KEYS, refuseUnknownKeys, SERVICE_YAML_KEYS } from "./known-keys.js";
export { type LoadedConfig, loadYamlConfig, parseYamlConfig } from "./load-yaml.js";
export {
  ADMISSION_PROFILES,
  type AdmissionProfile,
  readProfiles,
  SECURITY_PROFILES,
  type SecurityProfile,
} from "./profiles.js";
export { readSettingFile, readSettingJson } from "./setting-file.js";
export {
  pick,
  readBool,
  readEnum,
  readInt,
  readNumber,
  readOptionalString,
  readPort,
  readString,
  readUrl,
  withoutTrailingSlash,
} from "./settings.js";
export {
  clusterAudience,
  type NatsAuth,
  readStorageSettings,
  STORAGE_PROFILES,
  type StorageProfile,
  type StorageSettings,
} from "./storage.js";
export { envWithYaml } from "./yaml-env.js";
