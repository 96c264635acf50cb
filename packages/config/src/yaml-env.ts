import { ConfigError } from "./errors.js";
import { type KnownKeys, refuseUnknownKeys } from "./known-keys.js";
import { loadYamlConfig } from "./load-yaml.js";

const ENV_NAME = /^FAME_[A-Z0-9_]{1,64}$/;

/**
 * The services are configured by FAME_* variables. A YAML file (FAME_CONFIG)
 * may supply them too, under an `env:` mapping (interpolation applies), so
 * one file can describe a whole process. Real environment variables win.
 *
 * ```yaml
 * env:
 *   FAME_OAUTH2_PORT: 8443
 *   FAME_LOG_LEVEL: "${env:LOG:info}"
 * ```
 *
 * `known`: the keys the calling process reads from the file; any other is refused.
 */
export function envWithYaml(env: NodeJS.ProcessEnv = process.env, known?: KnownKeys): NodeJS.ProcessEnv {
  const { file, tree } = loadYamlConfig(env);
  if (known !== undefined) refuseUnknownKeys(tree, known);
  const block = tree["env"];
  if (block === undefined) return env;
  if (block === null || typeof block !== "object" || Array.isArray(block)) {
    throw new ConfigError("env", `${file}: the env block must be a mapping of FAME_* names to values`);
  }
  const merged: NodeJS.ProcessEnv = {};
  for (const [rawKey, value] of Object.entries(block)) {
    // UPPER_SNAKE names arrive as written; a snake_case or camelCase spelling was
    // camel-cased by normalizeKeys, so undo that
    const name = /[a-z]/.test(rawKey) ? rawKey.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase() : rawKey;
    if (!ENV_NAME.test(name)) throw new ConfigError(`env.${rawKey}`, "must be a FAME_* variable name");
    if (value !== null && typeof value === "object") {
      throw new ConfigError(`env.${rawKey}`, "must be a string, number or boolean");
    }
    merged[name] = value === null ? "" : String(value);
  }
  return { ...merged, ...env };
}
