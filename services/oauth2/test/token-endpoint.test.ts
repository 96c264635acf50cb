import type { RunningService } from "@fame/http-service/server";
import { generateSigningKey, type SigningKey, verifyAccessToken } from "@fame/identity";
import { createLogger } from "@fame/logger";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOAuth2Service } from "../src/index.js";

const ISSUER = "https://oauth.test";
const SECRET = "s3cret+with:colon/and%percent";
let svc: RunningService;
let key: SigningKey;

beforeAll(async () => {
  key = await generateSigningKey("oauth-k1");
  svc = await startOAuth2Service({
    host: "127.0.0.1",
    port: 0,
    tls: null,
    issuer: ISSUER,
    audience: "fame.fabric",
    tokenTtlSec: 600,
    signingKey: key,
    clients: [
      { clientId: "node-a", clientSecret: SECRET, scopes: ["node.connect", "metrics.read"] },
      { clientId: "no-cc", clientSecret: "another-long-secret", scopes: ["x"], grantTypes: ["password"] },
    ],
    logger: createLogger({ name: "oauth2-test", level: "silent" }),
    maxFailedAuthPerMinute: 3,
  });
});
afterAll(() => svc.close());

const FORM = "application/x-www-form-urlencoded";
const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;

function post(payload: string, headers: Record<string, string> = {}) {
  return svc.app.inject({
    method: "POST",
    url: "/oauth/token",
    payload,
    headers: { "content-type": FORM, ...headers },
  });
}

describe("POST /oauth/token", () => {
  it("issues a verifiable token with client_secret_basic (RFC 6749 §2.3.1 encoding)", async () => {
    const res = await post("grant_type=client_credentials&scope=node.connect", {
      authorization: basic("node-a", SECRET),
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers["cache-control"]).toBe("no-store");
    const body = res.json();
    expect(body).toMatchObject({ token_type: "Bearer", expires_in: 600, scope: "node.connect" });
    const jwks = (await svc.app.inject({ method: "GET", url: "/.well-known/jwks.json" })).json();
    const claims = await verifyAccessToken(body.access_token, {
      keys: jwks,
      issuer: ISSUER,
      audience: "fame.fabric",
    });
    expect(claims.client_id).toBe("node-a");
    expect(claims.scopes).toEqual(["node.connect"]);
  });

  it("accepts client_secret_post and defaults scope to everything allowed", async () => {
    const res = await post(
      new URLSearchParams({
        grant_type: "client_credentials",
        client_id: "node-a",
        client_secret: SECRET,
      }).toString(),
    );
    expect(res.statusCode).toBe(200);
    expect(res.json().scope).toBe("node.connect metrics.read");
  });

  it("accepts a JSON body", async () => {
    const res = await svc.app.inject({
      method: "POST",
      url: "/oauth/token",
      payload: { grant_type: "client_credentials", client_id: "node-a", client_secret: SECRET },
    });
    expect(res.statusCode).toBe(200);
  });

  it("wrong secret → 401 invalid_client, with a Basic challenge when Basic was used", async () => {
    const res = await post("grant_type=client_credentials", { authorization: basic("node-a", "wrong") });
    expect(res.statusCode).toBe(401);
    expect(res.json().error).toBe("invalid_client");
    expect(res.headers["www-authenticate"]).toMatch(/^Basic/);
    const viaPost = await post("grant_type=client_credentials&client_id=node-a&client_secret=wrong");
    expect(viaPost.statusCode).toBe(401);
    expect(viaPost.headers["www-authenticate"]).toBeUndefined();
    const unknown = await post("grant_type=client_credentials", { authorization: basic("ghost", SECRET) });
    expect(unknown.json().error).toBe("invalid_client");
  });

  it("no client authentication → 401 invalid_client", async () => {
    const res = await post("grant_type=client_credentials");
    expect(res.statusCode).toBe(401);
    expect(res.json().error).toBe("invalid_client");
  });

  it("unknown grant → 400 unsupported_grant_type; missing grant → invalid_request", async () => {
    const res = await post("grant_type=password", { authorization: basic("node-a", SECRET) });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe("unsupported_grant_type");
    const missing = await post("scope=node.connect", { authorization: basic("node-a", SECRET) });
    expect(missing.json().error).toBe("invalid_request");
  });

  it("client not allowed client_credentials → unauthorized_client", async () => {
    const res = await post("grant_type=client_credentials", {
      authorization: basic("no-cc", "another-long-secret"),
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe("unauthorized_client");
  });

  it("scope not allowed or malformed → 400 invalid_scope", async () => {
    const auth = { authorization: basic("node-a", SECRET) };
    for (const scope of ["admin", "node.connect admin", "a\\b", ""]) {
      const res = await post(
        new URLSearchParams({ grant_type: "client_credentials", scope }).toString(),
        auth,
      );
      expect(res.statusCode, scope).toBe(400);
      expect(res.json().error).toBe("invalid_scope");
    }
  });

  it("malformed requests → 400 invalid_request", async () => {
    const auth = { authorization: basic("node-a", SECRET) };
    const repeated = await post("grant_type=client_credentials&grant_type=client_credentials", auth);
    expect(repeated.json().error).toBe("invalid_request");
    const twoMethods = await post(
      `grant_type=client_credentials&client_id=node-a&client_secret=${SECRET}`,
      auth,
    );
    expect(twoMethods.json().error).toBe("invalid_request");
    const badJson = await svc.app.inject({
      method: "POST",
      url: "/oauth/token",
      payload: "{not json",
      headers: { "content-type": "application/json" },
    });
    expect(badJson.statusCode).toBe(400);
    const nonString = await svc.app.inject({
      method: "POST",
      url: "/oauth/token",
      payload: { grant_type: ["client_credentials"], client_id: "node-a", client_secret: SECRET },
    });
    expect(nonString.json().error).toBe("invalid_request");
    const badBasic = await post("grant_type=client_credentials", { authorization: "Basic !!!" });
    expect(badBasic.statusCode).toBe(401);
    const bearer = await post("grant_type=client_credentials", { authorization: "Bearer abc" });
    expect(bearer.json().error).toBe("invalid_client");
  });

  it("oversized body → 413", async () => {
    const res = await post(`grant_type=client_credentials&pad=${"x".repeat(20_000)}`);
    expect(res.statusCode).toBe(413);
  });

  it("limits failed authentications per client", async () => {
    const bad = { authorization: basic("victim", "nope") };
    for (let i = 0; i < 3; i++)
      expect((await post("grant_type=client_credentials", bad)).statusCode).toBe(401);
    const limited = await post("grant_type=client_credentials", bad);
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
  });

  it("counts failures per source: another host's guesses do not lock the credential's holder out", async () => {
    const from = (remoteAddress: string, secret: string) =>
      svc.app.inject({
        method: "POST",
        url: "/oauth/token",
        payload: "grant_type=client_credentials",
        headers: { "content-type": FORM, authorization: basic("node-a", secret) },
        remoteAddress,
      });
    for (let i = 0; i < 3; i++) expect((await from("10.0.0.66", "guess")).statusCode).toBe(401);
    expect((await from("10.0.0.66", "guess")).statusCode).toBe(429);
    // the guesser stays blocked even with the right secret; the holder elsewhere is served
    expect((await from("10.0.0.66", SECRET)).statusCode).toBe(429);
    expect((await from("10.0.0.7", SECRET)).statusCode).toBe(200);
  });
});

describe("discovery", () => {
  it("publishes openid-configuration and a public-only JWKS", async () => {
    const meta = (await svc.app.inject({ method: "GET", url: "/.well-known/openid-configuration" })).json();
    expect(meta).toMatchObject({
      issuer: ISSUER,
      token_endpoint: `${ISSUER}/oauth/token`,
      jwks_uri: `${ISSUER}/.well-known/jwks.json`,
      grant_types_supported: ["client_credentials"],
      token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
      id_token_signing_alg_values_supported: ["EdDSA"],
    });
    const jwks = (await svc.app.inject({ method: "GET", url: "/.well-known/jwks.json" })).json();
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: "OKP", crv: "Ed25519", kid: "oauth-k1", alg: "EdDSA" });
    expect(jwks.keys[0].d).toBeUndefined();
  });

  it("/health answers", async () => {
    const res = await svc.app.inject({ method: "GET", url: "/health" });
    expect(res.json()).toMatchObject({ status: "ok", service: "oauth2" });
  });
});
