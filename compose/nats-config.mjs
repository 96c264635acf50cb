// The cluster compose file's one-shot nats-config service: writes the NATS token and route
// password into the certs volume (certs/secrets/, kept across runs: the sentinels and Welcome
// read the token there) and one config file per NATS server into FAME_NATS_CONF_DIR (the
// nats-conf volume, which the nats-1..3 containers mount read-only: they never see certs/).
// Inside the compose network the servers listen on all interfaces: only the `state` network
// (the NATS servers, the sentinels and Welcome) reaches them; nodes are not on it.
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  ensureSecret,
  NATS_ROUTE_PASSWORD_FILE,
  NATS_TOKEN_FILE,
  natsConfigText,
} from "../scripts/fabric/nats.mjs";
import { CERTS_DIR } from "../scripts/fabric/topology.mjs";

const SERVERS = ["nats-1", "nats-2", "nats-3"];
const token = ensureSecret(NATS_TOKEN_FILE);
const routePassword = ensureSecret(NATS_ROUTE_PASSWORD_FILE);
const dir = process.env.FAME_NATS_CONF_DIR || join(CERTS_DIR, "nats");
mkdirSync(dir, { recursive: true, mode: 0o700 });
for (const name of SERVERS) {
  const file = join(dir, `${name}.conf`);
  const text = natsConfigText({
    name,
    host: "0.0.0.0",
    port: 4222,
    clusterPort: 6222,
    monitorPort: 8222,
    peers: SERVERS.filter((s) => s !== name).map((s) => `${s}:6222`),
    storeDir: "/data",
    token,
    routePassword,
    generatedBy: "the nats-config service (compose/nats-config.mjs)",
  });
  writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600);
}
process.stdout.write(
  `NATS token and route password in certs/secrets/, ${SERVERS.length} server configs in ${dir}\n`,
);
