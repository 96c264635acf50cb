import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { AGENT_SECRET, fakeCheckout, SECRET } from "./fake-io.js";

/** the dev fabric's process environments (scripts/fabric/topology.mjs, copied into a checkout) */
interface Spec {
  name: string;
}
interface Topology {
  processes(ports: Record<string, number>): Spec[];
  clientSpec(): Spec;
  fabricSettings(env: NodeJS.ProcessEnv, opts: { useState: boolean }): unknown;
  processEnv(spec: Spec, settings: unknown, opts: { env: NodeJS.ProcessEnv }): Record<string, string>;
  stateToSave(settings: unknown, env: NodeJS.ProcessEnv): { startEnv: Record<string, string> };
  restartEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  changedSettings(env: NodeJS.ProcessEnv, state: { startEnv: Record<string, string> }): string[];
  foreignSentinelUrl(settings: unknown, env: NodeJS.ProcessEnv): string | undefined;
  NODE_LOCATOR_KEYS: readonly string[];
}

const checkout = fakeCheckout();
afterAll(() => checkout.remove());

describe("make start's process environments", () => {
  it("give admission credentials to nodes only: no service holds a client secret", async () => {
    // the fallback credentials file too (used when a node's own is missing)
    writeFileSync(join(checkout.root, "certs", "dev.env"), `FAME_ADMISSION_CLIENT_SECRET=${SECRET}\n`);
    const topo = (await import(
      pathToFileURL(join(checkout.root, "scripts", "fabric", "topology.mjs")).href
    )) as Topology;
    const settings = topo.fabricSettings({}, { useState: false });
    const ports = { oauth2: 1, welcome: 2, ca: 3, sentinel: 4 };
    const envOf = (spec: Spec) => topo.processEnv(spec, settings, { env: { PATH: "/usr/bin" } });
    const byName = new Map(topo.processes(ports).map((s) => [s.name, envOf(s)]));
    for (const service of ["oauth2", "welcome", "ca", "sentinel"]) {
      expect(byName.get(service)?.["FAME_ADMISSION_CLIENT_SECRET"], service).toBeUndefined();
    }
    expect(byName.get("math-agent-replica1")?.["FAME_ADMISSION_CLIENT_SECRET"]).toBe(AGENT_SECRET);
    expect(envOf(topo.clientSpec())["FAME_ADMISSION_CLIENT_SECRET"]).toBe(SECRET);
  });

  it("take who a node is and where its fabric is from the checkout, never from a shell set up with `fame env`", async () => {
    const topo = (await import(
      pathToFileURL(join(checkout.root, "scripts", "fabric", "topology.mjs")).href
    )) as Topology;
    const settings = topo.fabricSettings({}, { useState: false }) as { urls: { attach: string } };
    // what `eval "$(fame env)"` left in the shell: the client credential, and another fabric's URLs
    const shell = {
      PATH: "/usr/bin",
      FAME_LOG_LEVEL: "debug",
      FAME_ADMISSION_CLIENT_ID: "fame-dev-client",
      FAME_ADMISSION_CLIENT_SECRET: "the-client-secret",
      FAME_ADMISSION_TOKEN_URL: "https://127.0.0.1:9443/oauth/token",
      FAME_ADMISSION_SERVICE_URL: "https://127.0.0.1:9444",
      FAME_SENTINEL_URL: "wss://127.0.0.1:9000/fame/v1/attach/ws/downstream",
      FAME_CA_CERTS: "/elsewhere/certs/trust-bundle.pem",
      FAME_REQUESTED_LOGICALS: "*.fame.fabric",
      FAME_SENTINEL_ADMIN_TOKEN_FILE: "/elsewhere/run/admin-token",
    };
    const ports = { oauth2: 1, welcome: 2, ca: 3, sentinel: 4 };
    const replica = topo.processes(ports).find((s) => s.name === "math-agent-replica1")!;
    const env = topo.processEnv(replica, settings, { env: shell });
    expect(env["FAME_ADMISSION_CLIENT_SECRET"]).toBe(AGENT_SECRET);
    const client = topo.processEnv(topo.clientSpec(), settings, { env: shell });
    expect(client["FAME_ADMISSION_CLIENT_SECRET"]).toBe(SECRET);
    for (const e of [env, client]) {
      for (const k of [
        "FAME_ADMISSION_TOKEN_URL",
        "FAME_ADMISSION_SERVICE_URL",
        "FAME_SENTINEL_URL",
        "FAME_CA_CERTS",
      ])
        expect(e[k], k).not.toBe(shell[k as keyof typeof shell]);
      expect(e["FAME_SENTINEL_ADMIN_TOKEN_FILE"]).toBeUndefined();
    }
    expect(client["FAME_REQUESTED_LOGICALS"]).toBeUndefined();
    // the shell's other settings still count
    expect(env["FAME_LOG_LEVEL"]).toBe("debug");
    expect(topo.NODE_LOCATOR_KEYS).toContain("FAME_SENTINEL_URL");
    // and its user hears that the shell points elsewhere; this fabric's own URL is no news
    expect(topo.foreignSentinelUrl(settings, shell)).toBe(shell.FAME_SENTINEL_URL);
    expect(topo.foreignSentinelUrl(settings, { FAME_SENTINEL_URL: settings.urls.attach })).toBeUndefined();
    expect(topo.foreignSentinelUrl(settings, {})).toBeUndefined();
  });

  it("a replica restarted from another shell gets the FAME_* and OTEL_* variables make start saw", async () => {
    const topo = (await import(
      pathToFileURL(join(checkout.root, "scripts", "fabric", "topology.mjs")).href
    )) as Topology;
    const settings = topo.fabricSettings({}, { useState: false });
    const state = topo.stateToSave(settings, {
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318",
      FAME_LOG_LEVEL: "debug",
      FAME_SENTINEL_PORT: "9000",
      HOME: "/root",
    });
    // ports are recorded as settings; other variables of the shell are not
    expect(state.startEnv).toEqual({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318",
      FAME_LOG_LEVEL: "debug",
    });
    mkdirSync(join(checkout.root, "run"), { recursive: true });
    writeFileSync(join(checkout.root, "run", "fabric.json"), JSON.stringify(state));
    const env = topo.restartEnv({ PATH: "/usr/bin", FAME_LOG_LEVEL: "info" });
    expect(env).toEqual({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318",
      FAME_LOG_LEVEL: "info",
      PATH: "/usr/bin",
    });
  });

  it("names (without their values) the caller's settings a running fabric was not started with", async () => {
    const topo = (await import(
      pathToFileURL(join(checkout.root, "scripts", "fabric", "topology.mjs")).href
    )) as Topology;
    const state = { startEnv: { FAME_LOG_LEVEL: "debug", OTEL_SERVICE_NAME: "x" } };
    expect(
      topo.changedSettings(
        {
          FAME_LOG_LEVEL: "debug", // the same
          OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4319", // new
          FAME_SENTINEL_PORT: "9000", // ports are checked apart
          PATH: "/usr/bin",
        },
        state,
      ),
    ).toEqual(["OTEL_EXPORTER_OTLP_ENDPOINT"]);
    // a value changed; one the shell lacks (OTEL_SERVICE_NAME) is no change
    expect(topo.changedSettings({ FAME_LOG_LEVEL: "info" }, state)).toEqual(["FAME_LOG_LEVEL"]);
    expect(topo.changedSettings({}, { startEnv: undefined as unknown as Record<string, string> })).toEqual(
      [],
    );
  });
});
