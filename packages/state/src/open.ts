import type { StorageSettings } from "@fame/config";
import type { Logger } from "@fame/logger";
import { openMemoryFabricState } from "./memory/open-memory.js";
import type { FabricStateOptions } from "./options.js";
import type { FabricState } from "./types.js";

/**
 * The shared state for the configured storage profile. `memory` is built in process; `nats`
 * loads the NATS client only then (a single sentinel never loads it), connects, opens the
 * buckets and resolves once every cache holds the bucket's current values.
 */
export async function openFabricState(
  settings: StorageSettings,
  log: Logger,
  opts: FabricStateOptions = {},
): Promise<FabricState> {
  if (settings.profile === "memory") return openMemoryFabricState(settings.clusterId, log, opts);
  const { openNatsFabricState } = await import("./nats/open-nats.js");
  return openNatsFabricState(settings, log, opts);
}
