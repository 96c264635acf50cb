/**
 * Sentinel scale rows: the sticky table at 10k / 100k / 1M pins, and node attach
 * rate and memory per attached node against a real sentinel process.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { binOf, freePort, startProcess } from "../../packages/testkit/dist/index.js";
import { REPO_ROOT, runForResult } from "../lib/procs.mjs";

export const PIN_COUNTS = [10_000, 100_000, 1_000_000];
const ATTACH_NODES = 2000;
const ATTACH_CONCURRENCY = 16;

export async function runScale(ctx) {
  const { progress, pki } = ctx;
  const pins = [];
  for (const n of PIN_COUNTS) {
    progress.step(`scale: sticky table with ${n.toLocaleString("en-US")} pins`);
    pins.push(
      await runForResult("pins", "scale/pins.mjs", { pins: n }, { env: { NODE_OPTIONS: "--expose-gc" } }),
    );
  }

  progress.step(`scale: ${ATTACH_NODES} nodes attaching (overlay profile, admission none)`);
  const port = await freePort();
  const configFile = join(pki.dir, "empty-config.yml");
  writeFileSync(configFile, "");
  const sentinel = await startProcess({
    name: "sentinel-attach",
    script: binOf("packages", "sentinel"),
    cwd: REPO_ROOT,
    env: {
      FAME_CONFIG: configFile,
      FAME_SENTINEL_PORT: String(port),
      FAME_SECURITY_PROFILE: "overlay",
      FAME_ADMISSION_PROFILE: "none",
      FAME_TLS_CERT: pki.cert,
      FAME_TLS_KEY: pki.key,
      FAME_CA_CERTS: pki.ca,
      FAME_NODE_ID: "sentinel0",
      // the attachers send no heartbeats; the measurement is over long before this
      FAME_HEARTBEAT_MS: "60000",
      // the anti-flood gate would (rightly) throttle 2000 attaches from one address
      FAME_ATTACH_RATE_PER_MIN: "1000000",
      FAME_MAX_PENDING_ATTACH: "100000",
      FAME_MAX_PENDING_ATTACH_PER_IP: "100000",
      FAME_LOG_LEVEL: "warn",
    },
    readyUrl: `https://127.0.0.1:${port}/health`,
    ca: pki.caPem,
    readyTimeoutMs: 30_000,
  });
  let attach;
  try {
    attach = await runForResult("attach-client", "scale/attach-client.mjs", {
      url: `wss://127.0.0.1:${port}/fame/v1/attach/ws/downstream`,
      ca: pki.ca,
      count: ATTACH_NODES,
      concurrency: ATTACH_CONCURRENCY,
      sentinelPid: sentinel.pid,
      healthUrl: `https://127.0.0.1:${port}/health`,
    });
  } finally {
    await sentinel.stop("SIGTERM", 5000);
  }
  return { pins, attach };
}
