import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "@fame/config";
import { describe, expect, it } from "vitest";
import { admissionOptionsFromEnv } from "../src/admission/index.js";

const base = { FAME_ADMISSION_CLIENT_ID: "node-a", FAME_ADMISSION_CLIENT_SECRET: "secret-value" };

function settingOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof ConfigError ? err.setting : `not a ConfigError: ${String(err)}`;
  }
  return undefined;
}

describe("admissionOptionsFromEnv", () => {
  it("applies defaults", () => {
    expect(admissionOptionsFromEnv(base)).toEqual({
      tokenUrl: "https://localhost:8443/oauth/token",
      welcomeUrl: "https://localhost:8444/",
      clientId: "node-a",
      clientSecret: "secret-value",
      timeoutMs: 10_000,
    });
  });

  it("reads every setting, including the trust bundle file", () => {
    const dir = mkdtempSync(join(tmpdir(), "fame-adm-"));
    const pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    writeFileSync(join(dir, "bundle.pem"), pem);
    const o = admissionOptionsFromEnv({
      ...base,
      FAME_ADMISSION_TOKEN_URL: "https://auth.example:9443/oauth/token",
      FAME_ADMISSION_SERVICE_URL: "https://welcome.example:9444",
      FAME_CA_CERTS: join(dir, "bundle.pem"),
      FAME_ADMISSION_TIMEOUT_MS: "2500",
    });
    expect(o.tokenUrl).toBe("https://auth.example:9443/oauth/token");
    expect(o.welcomeUrl).toBe("https://welcome.example:9444/");
    expect(o.trustBundlePem).toBe(pem);
    expect(o.timeoutMs).toBe(2500);
  });

  it("names the setting on bad or missing values", () => {
    expect(settingOf(() => admissionOptionsFromEnv({}))).toBe("FAME_ADMISSION_CLIENT_ID");
    expect(settingOf(() => admissionOptionsFromEnv({ FAME_ADMISSION_CLIENT_ID: "a" }))).toBe(
      "FAME_ADMISSION_CLIENT_SECRET",
    );
    expect(settingOf(() => admissionOptionsFromEnv({ ...base, FAME_ADMISSION_CLIENT_ID: "a b" }))).toBe(
      "FAME_ADMISSION_CLIENT_ID",
    );
    expect(settingOf(() => admissionOptionsFromEnv({ ...base, FAME_ADMISSION_TOKEN_URL: "not a url" }))).toBe(
      "FAME_ADMISSION_TOKEN_URL",
    );
    expect(settingOf(() => admissionOptionsFromEnv({ ...base, FAME_ADMISSION_SERVICE_URL: "ftp://x" }))).toBe(
      "FAME_ADMISSION_SERVICE_URL",
    );
    expect(
      settingOf(() => admissionOptionsFromEnv({ ...base, FAME_CA_CERTS: "/nonexistent/bundle.pem" })),
    ).toBe("FAME_CA_CERTS");
    expect(settingOf(() => admissionOptionsFromEnv({ ...base, FAME_ADMISSION_TIMEOUT_MS: "soon" }))).toBe(
      "FAME_ADMISSION_TIMEOUT_MS",
    );
  });
});
