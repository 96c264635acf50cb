import { rmSync } from "node:fs";
import { join } from "node:path";
import { latestProfile } from "./lib/cpu-profile.mjs";
import { cpuProfileEnv } from "./lib/procs.mjs";
import { runClient, startBenchReplica, withStack } from "./sections/fabric.mjs";
const enc = process.argv[2] ?? "channel";
const profile = process.argv[3] ?? "strict-overlay";
const task = JSON.parse(process.argv[4] ?? '{"name":"echo","kind":"echo","concurrency":8,"bytes":65536}');
const base = "/tmp/prof";
rmSync(base, { recursive: true, force: true });
const dirs = { sentinel: join(base, "sentinel"), replica: join(base, "replica"), client: join(base, "client") };
process.env.BENCH_CPU_PROF_INTERVAL = process.env.IV ?? "250";
const ctx = { warmupMs: 1500, measureMs: 4000, cleanups: new Set(), progress: { step: console.log } };
await withStack(ctx, { securityProfile: profile, logLevel: "warn", sentinelEnv: cpuProfileEnv(dirs.sentinel, "sentinel") }, async (stack) => {
  const replica = await startBenchReplica(stack, "replica1", cpuProfileEnv(dirs.replica, "replica"));
  try {
    const r = await runClient(ctx, stack, replica, enc, [task], cpuProfileEnv(dirs.client, "client"));
    console.log(JSON.stringify(r.results));
  } finally { await replica.stop("SIGTERM", 5000); }
});
for (const [role, dir] of Object.entries(dirs)) console.log(role, latestProfile(dir));
process.exit(0);
