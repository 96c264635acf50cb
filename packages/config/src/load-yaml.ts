import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { ConfigError } from "./errors.js";
import { interpolateEnv, normalizeKeys } from "./interpolate.js";

export interface LoadedConfig {
  /** the file that was read, or undefined when none exists and none was required */
  file: string | undefined;
  /** the parsed tree, env-interpolated, keys in camelCase */
  tree: Record<string, unknown>;
}

/**
 * Loads the YAML config named by FAME_CONFIG (default ./fame-config.yml). An
 * explicitly named file must exist; the default one is optional.
 */
export function loadYamlConfig(env: NodeJS.ProcessEnv = process.env, explicit?: string): LoadedConfig {
  const named = explicit ?? env["FAME_CONFIG"];
  const file = named && named.length > 0 ? named : "./fame-config.yml";
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if (!named && (err as NodeJS.ErrnoException).code === "ENOENT") return { file: undefined, tree: {} };
    throw new ConfigError("FAME_CONFIG", `cannot read ${file}: ${(err as Error).message}`);
  }
  return { file, tree: parseYamlConfig(text, env, file) };
}

export function parseYamlConfig(
  text: string,
  env: NodeJS.ProcessEnv,
  source = "<yaml>",
): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = parse(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError("FAME_CONFIG", `${source} is not valid YAML: ${(err as Error).message}`);
  }
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError("FAME_CONFIG", `${source} must hold a mapping at the top level`);
  }
  return normalizeKeys(interpolateEnv(raw, env)) as Record<string, unknown>;
}
