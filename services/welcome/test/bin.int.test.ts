import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { requestJson } from "@fame/http-service";
import { generateDevPki } from "@fame/identity";
import { pidAlive, startProcess, stopAll } from "@fame/testkit";
import type { JSONWebKeySet } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** The built bin: TLS on, JWKS served, config errors exit 2, SIGTERM exits 0. */
const root = fileURLToPath(new URL("../../..", import.meta.url));
const script = join(root, "services", "welcome", "dist", "bin.js");
let dir: string;
let ca: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "fame-welcome-bin-"));
  await generateDevPki({ dir });
  ca = readFileSync(join(dir, "trust-bundle.pem"), "utf8");
});
afterAll(async () => {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});

const port = () => String(20_000 + Math.floor(Math.random() * 20_000));

describe("fame-welcome bin", () => {
  it("serves its JWKS over TLS, refuses unauthenticated hellos, stops on SIGTERM", async () => {
    const p = port();
    const base = `https://127.0.0.1:${p}`;
    const proc = await startProcess({
      name: "welcome",
      script,
      cwd: root,
      env: {
        FAME_CERTS_DIR: dir,
        FAME_TLS_CERT: join(dir, "server.pem"),
        FAME_TLS_KEY: join(dir, "server.key"),
        FAME_CA_CERTS: join(dir, "trust-bundle.pem"),
        FAME_WELCOME_PORT: p,
      },
      readyUrl: `${base}/health`,
      ca,
    });
    const jwks = await requestJson<JSONWebKeySet>(`${base}/.well-known/jwks.json`, { ca });
    expect(jwks.keys[0]).toMatchObject({ kty: "OKP", crv: "Ed25519", alg: "EdDSA" });
    expect(jwks.keys[0]).not.toHaveProperty("d");
    const err = await requestJson(`${base}/fame/v1/welcome/hello`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ instanceId: "i", requestedLogicals: ["a.fame.fabric"] }),
      ca,
    }).catch((e: unknown) => e as { status?: number; body?: { error?: string } });
    expect((err as { status?: number }).status).toBe(401);
    expect((err as { body?: { error?: string } }).body?.error).toBe("invalid_token");
    expect(await proc.stop("SIGTERM")).toBe(0);
    expect(pidAlive(proc.pid)).toBe(false);
  });

  it("exits 2 naming the setting on bad configuration", async () => {
    const proc = await startProcess({
      name: "welcome-bad",
      script,
      cwd: root,
      env: {
        FAME_CERTS_DIR: dir,
        FAME_DEV_INSECURE_HTTP: "1",
        FAME_WELCOME_WILDCARD_LOGICALS: "*",
        FAME_WELCOME_PORT: port(),
      },
    });
    expect(await proc.exited).toBe(2);
    expect(proc.output()).toContain("FAME_WELCOME_WILDCARD_LOGICALS");
  });
});
