import { createServer } from "node:net";
import { ConfigError } from "@fame/config";
import { createLogger } from "@fame/logger";
import { describe, expect, it } from "vitest";
import { NodeTelemetry } from "../src/node-telemetry.js";

const log = createLogger({ name: "node-telemetry-test", level: "silent" });

describe("a node's metrics page (FAME_METRICS_PORT)", () => {
  it("names the setting when its port is taken (a setting error, exit 2), not a stack trace", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const address = taken.address();
    const port = typeof address === "object" && address ? address.port : 0;
    try {
      const telemetry = await NodeTelemetry.fromEnv({
        env: { FAME_METRICS_PORT: String(port) },
        serviceName: "t",
        log,
        verbose: false,
      });
      const refused = await telemetry!.listen().catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ConfigError);
      expect(String(refused)).toMatch(new RegExp(`FAME_METRICS_PORT.*port ${port} is in use`));
      await telemetry!.close();
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });

  it("opens on a free port (0: any)", async () => {
    const telemetry = await NodeTelemetry.fromEnv({
      env: { FAME_METRICS_PORT: "0" },
      serviceName: "t",
      log,
      verbose: false,
    });
    await telemetry!.listen();
    expect(telemetry!.metricsPort).toBeGreaterThan(0);
    await telemetry!.close();
  });
});
