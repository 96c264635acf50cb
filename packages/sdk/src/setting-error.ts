import { ConfigError } from "@fame/config";
import { LogSettingError } from "@fame/logger";

/** The exit code of a process stopped by a bad setting, as `fame` and the demo agents use it. */
export const SETTING_ERROR_EXIT = 2;

/**
 * Did a node fail to start because of a bad FAME_* setting (or config file value)? Its message
 * names the setting (`invalid setting FAME_RPC_TIMEOUT_MS: …`): print it without a stack and
 * exit with SETTING_ERROR_EXIT, so scripts can tell a typo from a fabric that is down.
 */
export function isSettingError(err: unknown): err is Error & { setting: string } {
  return err instanceof ConfigError || err instanceof LogSettingError;
}
