/**
 * A sentinel cluster for the bench's cluster rows, as make start-cluster runs it: testkit's
 * startClusterStack with a 3-server NATS JetStream cluster (3 copies of every bucket, a token),
 * OAuth2, Welcome and CA in cluster mode, and sentinels started one at a time (so the bench
 * decides where Welcome places whom: it picks the least loaded live sentinel). Real processes on
 * loopback, stopped by PID.
 */
import { join } from "node:path";
import { binOf, freePorts, startClusterStack as startStack } from "../../packages/testkit/dist/index.js";

const HOST = "127.0.0.1";

export async function startClusterStack({ natsServers = 3, logLevel = "warn" } = {}) {
  const stack = await startStack({
    clusterId: "bench",
    natsServers,
    natsToken: true,
    logLevel,
    name: "fame-bench-cluster",
    sentinelEnv: { FAME_MAX_INFLIGHT: "1024" },
  });
  return Object.assign(stack, {
    /**
     * A sentinel for the attach-rate rows, outside the placement game: admission `none`,
     * profile `overlay` (the sentinel checks key possession), no attach throttles; its state
     * on the cluster's NATS (`nats`) or in memory (`memory`, the single-sentinel baseline).
     */
    async startAttachSentinel(id, storage) {
      const [port] = await freePorts(1);
      const healthUrl = `https://${HOST}:${port}/health`;
      const url = `wss://${HOST}:${port}/fame/v1/attach/ws/downstream`;
      const proc = await stack.start(
        `sentinel-${id}`,
        binOf("packages", "sentinel"),
        {
          ...(storage === "nats" ? { ...stack.storageEnv, FAME_PUBLIC_URL: url } : {}),
          FAME_NODE_ID: id,
          FAME_SENTINEL_PORT: String(port),
          FAME_SECURITY_PROFILE: "overlay",
          FAME_ADMISSION_PROFILE: "none",
          // the attachers send no heartbeats; the measurement is over long before this
          FAME_HEARTBEAT_MS: "60000",
          FAME_ATTACH_RATE_PER_MIN: "1000000",
          FAME_MAX_PENDING_ATTACH: "100000",
          FAME_MAX_PENDING_ATTACH_PER_IP: "100000",
          FAME_MAX_HANDSHAKES: "100000",
          FAME_MAX_HANDSHAKES_PER_IP: "100000",
        },
        { readyUrl: healthUrl },
      );
      return { proc, url, healthUrl, ca: join(stack.pki.dir, "trust-bundle.pem") };
    },
  });
}
