/** A configuration value that cannot be used; `setting` names it (env var or YAML path). */
export class ConfigError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`invalid setting ${setting}: ${message}`);
    this.name = "ConfigError";
  }
}
