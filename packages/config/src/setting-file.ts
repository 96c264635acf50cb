import { readFileSync } from "node:fs";
import { ConfigError } from "./errors.js";

/**
 * Reads a file a setting names (a key, a certificate, a clients list). Every
 * failure is a ConfigError naming the setting, with a hint when the file is
 * simply not generated yet; the content is never echoed (it may be secret).
 */
export function readSettingFile(file: string, setting: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    const hint =
      (err as NodeJS.ErrnoException).code === "ENOENT"
        ? " (run `make pki` to generate the dev PKI and secrets)"
        : "";
    throw new ConfigError(setting, `cannot read ${file}: ${(err as Error).message}${hint}`);
  }
}

/** readSettingFile, parsed as JSON */
export function readSettingJson(file: string, setting: string): unknown {
  const text = readSettingFile(file, setting);
  try {
    return JSON.parse(text);
  } catch {
    throw new ConfigError(setting, `${file} is not JSON`);
  }
}
