import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { envWithYaml, NODE_YAML_KEYS, SERVICE_YAML_KEYS } from "../src/index.js";

/**
 * The identity services' YAML files in config/ must agree with each other:
 * an issuer one service signs with is the one the others expect.
 */
const configDir = fileURLToPath(new URL("../../../config", import.meta.url));
const ports = {
  FAME_OAUTH2_PORT: "9443",
  FAME_WELCOME_PORT: "9444",
  FAME_CA_PORT: "9445",
  FAME_SENTINEL_PORT: "9100",
};
const service = (name: string) =>
  ["oauth2", "welcome", "ca"].includes(name) ? SERVICE_YAML_KEYS : undefined;
const node = (name: string) => (["math-agent", "client"].includes(name) ? NODE_YAML_KEYS : undefined);
// each file read with the keys its process accepts (the sentinel checks its own in sentinel-config)
const load = (name: string) =>
  envWithYaml({ ...ports, FAME_CONFIG: join(configDir, `${name}.yml`) }, service(name) ?? node(name));

describe("config/*.yml env blocks", () => {
  const oauth2 = load("oauth2");
  const welcome = load("welcome");
  const ca = load("ca");
  const sentinel = load("sentinel");
  const agent = load("math-agent");
  load("client");

  it("listen on the ports they are given", () => {
    expect(oauth2["FAME_OAUTH2_PORT"]).toBe("9443");
    expect(welcome["FAME_WELCOME_PORT"]).toBe("9444");
    expect(ca["FAME_CA_PORT"]).toBe("9445");
  });

  it("agree on issuers and on where each service is", () => {
    expect(welcome["FAME_OAUTH2_ISSUER"]).toBe(oauth2["FAME_OAUTH2_ISSUER"]);
    expect(welcome["FAME_JWKS_URL"]).toBe(`${oauth2["FAME_OAUTH2_ISSUER"]}/.well-known/jwks.json`);
    for (const other of [ca, sentinel]) {
      expect(other["FAME_WELCOME_ISSUER"]).toBe(welcome["FAME_WELCOME_ISSUER"]);
      expect(other["FAME_WELCOME_JWKS_URL"]).toBe(`${welcome["FAME_WELCOME_ISSUER"]}/.well-known/jwks.json`);
    }
    expect(welcome["FAME_CA_SERVICE_URL"]).toBe("https://127.0.0.1:9445");
    expect(welcome["FAME_TRANSPORT_URL"]).toBe("wss://127.0.0.1:9100/fame/v1/attach/ws/downstream");
    expect(agent["FAME_ADMISSION_TOKEN_URL"]).toBe(`${oauth2["FAME_OAUTH2_ISSUER"]}/oauth/token`);
    expect(agent["FAME_ADMISSION_SERVICE_URL"]).toBe(welcome["FAME_WELCOME_ISSUER"]);
  });
});
