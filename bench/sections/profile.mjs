/**
 * Where the time goes: the strict-overlay/channel RPC run (64 in flight) again, on a
 * fresh stack whose sentinel, replica and client sample their CPU (inspector profiler,
 * preloaded through NODE_OPTIONS). Profiles land in bench/results/profiles/.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { latestProfile, summarizeProfile } from "../lib/cpu-profile.mjs";
import { cpuProfileEnv } from "../lib/procs.mjs";
import { runClient, startBenchReplica, withStack } from "./fabric.mjs";

export async function runProfile(ctx) {
  const { progress, resultsDir } = ctx;
  const base = join(resultsDir, "profiles");
  rmSync(base, { recursive: true, force: true });
  const dirs = {
    sentinel: join(base, "sentinel"),
    replica: join(base, "replica"),
    client: join(base, "client"),
  };
  progress.step("profile: strict-overlay stack with a profiled sentinel");
  await withStack(
    ctx,
    {
      securityProfile: "strict-overlay",
      logLevel: "warn",
      sentinelEnv: cpuProfileEnv(dirs.sentinel, "sentinel"),
    },
    async (stack) => {
      const replica = await startBenchReplica(stack, "replica1", cpuProfileEnv(dirs.replica, "replica"));
      try {
        progress.step("profile: channel RPC, 64 in flight, sentinel + replica + client sampled");
        await runClient(
          ctx,
          stack,
          replica,
          "channel",
          [{ name: "add_inflight64", kind: "add", concurrency: 64 }],
          cpuProfileEnv(dirs.client, "client"),
        );
      } finally {
        await replica.stop("SIGTERM", 5000);
      }
    },
  );
  const out = {};
  for (const [role, dir] of Object.entries(dirs)) {
    const file = latestProfile(dir);
    out[role] = file ? { path: file, ...summarizeProfile(file) } : null;
  }
  return out;
}
