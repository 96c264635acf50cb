import { requestJson } from "@fame/http-service/client";
import {
  binOf,
  createTestPki,
  freePort,
  pidAlive,
  REPO_ROOT,
  startProcess,
  stopAll,
  type TestPki,
} from "@fame/testkit";
import type { JSONWebKeySet } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** The built bin: TLS on, JWKS served, config errors exit 2, SIGTERM exits 0. */
const root = REPO_ROOT;
const script = binOf("services", "welcome");
let pki: TestPki;
let ca: string;

beforeAll(async () => {
  pki = await createTestPki("fame-welcome-bin");
  ca = pki.trustBundle;
});
afterAll(async () => {
  await stopAll();
  pki?.remove();
});

const port = async () => String(await freePort());

describe("fame-welcome bin", () => {
  it("serves its JWKS over TLS, refuses unauthenticated hellos, stops on SIGTERM", async () => {
    const p = await port();
    const base = `https://127.0.0.1:${p}`;
    const proc = await startProcess({
      name: "welcome",
      script,
      cwd: root,
      env: {
        ...pki.env,
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
        FAME_CERTS_DIR: pki.dir,
        FAME_DEV_INSECURE_HTTP: "1",
        FAME_WELCOME_WILDCARD_LOGICALS: "*",
        FAME_WELCOME_PORT: await port(),
      },
    });
    expect(await proc.exited).toBe(2);
    expect(proc.output()).toContain("FAME_WELCOME_WILDCARD_LOGICALS");
  });
});
