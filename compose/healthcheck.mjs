// Container health check: GET an HTTPS URL trusting the dev bundle; exit 0 on 2xx.
import { readFileSync } from "node:fs";
import { get } from "node:https";

const url = process.argv[2];
if (!url) {
  process.stderr.write("usage: node compose/healthcheck.mjs https://host:port/health\n");
  process.exit(2);
}
const ca = readFileSync(process.env.FAME_CA_CERTS || "certs/trust-bundle.pem", "utf8");
const req = get(url, { ca, timeout: 2000 }, (res) => {
  res.resume();
  process.exit(res.statusCode >= 200 && res.statusCode < 300 ? 0 : 1);
});
req.on("timeout", () => req.destroy(new Error("timeout")));
req.on("error", () => process.exit(1));
