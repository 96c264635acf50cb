import { join } from "node:path";
import { type FabricStack, REPO_ROOT, type RunningProcess, startProcess } from "@fame/testkit";
import { sentinelYaml } from "../../integration/affinity-helpers.js";

/** The single-active pool the silent-holder attacks target. */
export const LEDGER = "ledger@fame.fabric";

export interface LedgerApi {
  add(p: { x: number; y: number }): Promise<number>;
  whoami(): Promise<{ replica: string }>;
}

/**
 * A sentinel config with the ledger pool: single-active, probed every second, and outlier
 * ejection after `unansweredSec` (short, so the tests need not wait 30 s).
 */
export function ledgerPoolYaml(unansweredSec: number): { file: string; cleanup: () => void } {
  return sentinelYaml(
    [
      `    - address: "${LEDGER}"`,
      "      mode: single-active",
      "      health_check: { operation: whoami, interval_sec: 1, timeout_ms: 800 }",
      `      outlier_detection: { unanswered_sec: ${unansweredSec}, ejection_sec: 120 }`,
      "",
    ].join("\n"),
  );
}

/**
 * A hostile member of the ledger pool (fixtures/silent-holder.mjs): admitted with the agents'
 * credential, it answers the sentinel's health probes and drops every client call.
 */
export function startSilentHolder(stack: FabricStack): Promise<RunningProcess> {
  return startProcess({
    name: "silent-holder",
    script: join(REPO_ROOT, "test/adversarial/fixtures/silent-holder.mjs"),
    cwd: REPO_ROOT,
    env: { ...stack.nodeEnv, FAME_REQUESTED_LOGICALS: "*.fame.fabric", FAME_NODE_NAME: "mallory" },
    readyLine: /silent holder serving/,
    readyTimeoutMs: 30_000,
  });
}
