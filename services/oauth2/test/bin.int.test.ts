import { requestJson, requestRaw } from "@fame/http-service/client";
import { verifyAccessToken } from "@fame/identity";
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

/** The built bin as operators run it: TLS on, config errors exit 2, SIGTERM exits 0. */
const root = REPO_ROOT;
const script = binOf("services", "oauth2");
let pki: TestPki;
let ca: string;

beforeAll(async () => {
  pki = await createTestPki("fame-oauth2-bin");
  ca = pki.trustBundle;
});
afterAll(async () => {
  await stopAll();
  pki?.remove();
});

const port = async () => String(await freePort());

describe("fame-oauth2 bin", () => {
  it("serves tokens over TLS and stops on SIGTERM", async () => {
    const p = await port();
    const base = `https://127.0.0.1:${p}`;
    const proc = await startProcess({
      name: "oauth2",
      script,
      cwd: root,
      env: {
        ...pki.env,
        FAME_OAUTH2_PORT: p,
        FAME_OAUTH2_ISSUER: base,
      },
      readyUrl: `${base}/health`,
      ca,
    });
    const { client_id, client_secret } = pki.client;
    const token = await requestJson<{ access_token: string }>(`${base}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "client_credentials", client_id, client_secret }).toString(),
      ca,
    });
    const jwks = await requestJson<JSONWebKeySet>(`${base}/.well-known/jwks.json`, { ca });
    const claims = await verifyAccessToken(token.access_token, {
      keys: jwks,
      issuer: base,
      audience: "fame.fabric",
    });
    expect(claims.scopes).toContain("node.connect");
    expect(proc.output()).not.toContain(client_secret);
    expect(proc.output()).not.toContain(token.access_token);
    // the CA is private: a client without the trust bundle cannot even complete the handshake
    await expect(requestRaw(`${base}/health`, { timeoutMs: 2000 })).rejects.toThrow();
    expect(await proc.stop("SIGTERM")).toBe(0);
    expect(pidAlive(proc.pid)).toBe(false);
  });

  it("exits 2 naming the setting on bad configuration", async () => {
    const proc = await startProcess({
      name: "oauth2-bad",
      script,
      cwd: root,
      env: {
        FAME_CERTS_DIR: pki.dir,
        FAME_DEV_INSECURE_HTTP: "1",
        FAME_OAUTH2_TOKEN_TTL_SEC: "nope",
        FAME_OAUTH2_PORT: await port(),
      },
    });
    expect(await proc.exited).toBe(2);
    expect(proc.output()).toContain("FAME_OAUTH2_TOKEN_TTL_SEC");
  });
});
