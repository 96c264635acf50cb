/**
 * Sentinel scale rows: the sticky table at 10k / 100k / 1M pins, node attach rate and
 * memory per attached node against a real sentinel process, and the idle cost: sentinel
 * memory per attached idle node and per live (pinned) channel at 1k and 5k nodes.
 */
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { binOf, freePort, freePorts, startProcess } from "../../packages/testkit/dist/index.js";
import { REPO_ROOT, runForResult } from "../lib/procs.mjs";

export const PIN_COUNTS = [10_000, 100_000, 1_000_000];
const ATTACH_NODES = 2000;
const ATTACH_CONCURRENCY = 16;
/** idle-cost sizes: nodes attached, then as many channels (one per node) */
export const IDLE_SIZES = [1000, 5000];
/** FAME_MAX_CLOCK_SKEW_MS of the idle-cost sentinel (its minimum) */
const IDLE_SKEW_MS = 1000;

/** a real sentinel for the scale rows: overlay profile, admission none, attach gate raised */
function startScaleSentinel(name, pki, port, env = {}) {
  const configFile = join(pki.dir, "empty-config.yml");
  writeFileSync(configFile, "");
  return startProcess({
    name,
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
      // the anti-flood gate would (rightly) throttle thousands of attaches from one address
      FAME_ATTACH_RATE_PER_MIN: "1000000",
      FAME_MAX_PENDING_ATTACH: "100000",
      FAME_MAX_PENDING_ATTACH_PER_IP: "100000",
      FAME_MAX_HANDSHAKES: "100000",
      FAME_MAX_HANDSHAKES_PER_IP: "100000",
      FAME_LOG_LEVEL: "warn",
      ...env,
    },
    readyUrl: `https://127.0.0.1:${port}/health`,
    ca: pki.caPem,
    readyTimeoutMs: 30_000,
  });
}

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
  const sentinel = await startScaleSentinel("sentinel-attach", pki, port);
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
  const idle = await runIdleCost(ctx);
  return { pins, attach, idle };
}

/**
 * Idle cost: a sentinel with the inspector on loopback (the child collects its garbage before
 * each reading), nodes and channels added in steps; memory from the sentinel's own /metrics.
 */
export async function runIdleCost({ progress, pki }) {
  progress.step(`scale: idle cost, ${IDLE_SIZES.join(" / ")} nodes and as many pinned channels`);
  const [port, inspectorPort] = await freePorts(2);
  const adminToken = randomBytes(24).toString("base64url");
  const sentinel = await startScaleSentinel("sentinel-idle", pki, port, {
    NODE_OPTIONS: `--inspect=127.0.0.1:${inspectorPort}`,
    FAME_SENTINEL_ADMIN_TOKEN: adminToken,
    // a short replay window swept every second, so the channel rows can wait it out (~3 s);
    // the silent bench nodes are allowed 200 s without a heartbeat
    FAME_MAX_CLOCK_SKEW_MS: String(IDLE_SKEW_MS),
    FAME_HEARTBEAT_MS: "2000",
    FAME_HEARTBEAT_MISS_LIMIT: "100",
    FAME_IDLE_TIMEOUT_MS: "600000",
  });
  try {
    return await runForResult(
      "idle-cost",
      "scale/idle-cost.mjs",
      {
        url: `wss://127.0.0.1:${port}/fame/v1/attach/ws/downstream`,
        ca: pki.ca,
        metricsUrl: `https://127.0.0.1:${port}/metrics`,
        adminToken,
        inspectorPort,
        sizes: IDLE_SIZES,
        concurrency: ATTACH_CONCURRENCY,
        // the skew, then two sweeps (one every heartbeat / 2)
        settleMs: IDLE_SKEW_MS + 2000,
      },
      { timeoutMs: 180_000 },
    );
  } finally {
    await sentinel.stop("SIGTERM", 5000);
  }
}
