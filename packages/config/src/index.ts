export { ConfigError } from "./errors.js";
export { camelKey, interpolateEnv, normalizeKeys } from "./interpolate.js";
export { type LoadedConfig, loadYamlConfig, parseYamlConfig } from "./load-yaml.js";
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
} from "./settings.js";
export { envWithYaml } from "./yaml-env.js";
