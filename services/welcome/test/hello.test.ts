import type { RunningService } from "@fame/http-service/server";
import {
  generateSigningKey,
  publicJwks,
  type SigningKey,
  signAccessToken,
  verifyAttachTicket,
  verifyCaGrant,
} from "@fame/identity";
import { createLogger } from "@fame/logger";
import { sidFromPath } from "@fame/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { remoteAccessTokenKeys, startWelcomeService, type WelcomeConfig } from "../src/index.js";

const OAUTH = { issuer: "https://oauth.test", audience: "fame.fabric" };
const WELCOME_ISSUER = "https://welcome.test";
let oauthKey: SigningKey;
let welcomeKey: SigningKey;
let svc: RunningService;
let config: WelcomeConfig;
const silent = createLogger({ name: "welcome-test", level: "silent" });

beforeAll(async () => {
  oauthKey = await generateSigningKey("oauth");
  welcomeKey = await generateSigningKey("welcome");
  config = {
    host: "127.0.0.1",
    port: 0,
    tls: null,
    issuer: WELCOME_ISSUER,
    signingKey: welcomeKey,
    accessToken: { keys: publicJwks([oauthKey]), ...OAUTH },
    sentinelAudience: "fame-sentinel",
    sentinelId: "sentinel0",
    ticketTtlSec: 120,
    caGrantTtlSec: 60,
    transportUrl: "wss://localhost:8000/fame/v1/attach/ws/downstream",
    caSignUrl: "https://localhost:8445/fame/v1/ca/sign",
    allowedDomains: ["fame.fabric"],
    wildcardPatterns: ["*.fame.fabric"],
    logger: silent,
  };
  svc = await startWelcomeService(config);
});
afterAll(() => svc.close());

async function accessToken(patch: Partial<Parameters<typeof signAccessToken>[1]> = {}, key = oauthKey) {
  return (
    await signAccessToken(key, {
      ...OAUTH,
      clientId: "node-a",
      scopes: ["node.connect"],
      ttlSec: 300,
      ...patch,
    })
  ).token;
}

function hello(token: string | undefined, payload: unknown, headers: Record<string, string> = {}) {
  return svc.app.inject({
    method: "POST",
    url: "/fame/v1/welcome/hello",
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    payload: payload as Record<string, unknown>,
  });
}

const goodBody = {
  instanceId: "inst-1",
  requestedLogicals: ["*.fame.fabric", "api.fame.fabric"],
  capabilities: ["rpc"],
};

describe("POST /fame/v1/welcome/hello", () => {
  it("admits a node: ticket and grant verify with Welcome's JWKS, sid matches the path", async () => {
    const res = await hello(await accessToken(), goodBody);
    expect(res.statusCode).toBe(200);
    expect(res.headers["cache-control"]).toBe("no-store");
    const body = res.json();
    expect(body.systemId).toMatch(/^[A-Za-z0-9]{22}$/);
    expect(body.assignedPath).toBe(`/sentinel0/${body.systemId}`);
    expect(body.sid).toBe(sidFromPath(body.assignedPath));
    expect(body.acceptedLogicals).toEqual(goodBody.requestedLogicals);
    expect(body.transport.url).toBe(config.transportUrl);
    expect(body.caGrant.url).toBe(config.caSignUrl);

    const jwks = (await svc.app.inject({ method: "GET", url: "/.well-known/jwks.json" })).json();
    const ticket = await verifyAttachTicket(body.attachTicket, {
      keys: jwks,
      issuer: WELCOME_ISSUER,
      audience: "fame-sentinel",
    });
    expect(ticket).toMatchObject({
      sub: body.systemId,
      system_id: body.systemId,
      assigned_path: body.assignedPath,
      sid: body.sid,
      instance_id: "inst-1",
      accepted_logicals: body.acceptedLogicals,
    });
    expect(ticket.exp - ticket.iat).toBe(120);
    expect(new Date(body.expiresAt).getTime()).toBe(ticket.exp * 1000);
    const grant = await verifyCaGrant(body.caGrant.token, { keys: jwks, issuer: WELCOME_ISSUER });
    expect(grant.system_id).toBe(body.systemId);
    expect(grant.jti).not.toBe(ticket.jti);
  });

  it("keeps an instance's systemId across hellos, another instance gets another; a proposed one is ignored by default", async () => {
    const token = await accessToken();
    const a = (await hello(token, { ...goodBody, systemId: "chosen" })).json();
    const again = (await hello(token, goodBody)).json();
    const other = (await hello(token, { ...goodBody, instanceId: "inst-2" })).json();
    expect(a.systemId).not.toBe("chosen");
    expect(again.systemId).toBe(a.systemId);
    expect(again.sid).toBe(a.sid);
    expect(again.attachTicket).not.toBe(a.attachTicket);
    expect(other.systemId).not.toBe(a.systemId);
  });

  it.each([
    ["missing", undefined],
    ["garbage", "not-a-jwt"],
  ])("%s token → 401 invalid_token", async (_n, token) => {
    const res = await hello(token, goodBody);
    expect(res.statusCode).toBe(401);
    expect(res.json().error).toBe("invalid_token");
    expect(res.headers["www-authenticate"]).toMatch(/^Bearer/);
  });

  it("expired, forged, wrong-audience, wrong-issuer tokens → 401", async () => {
    const forger = await generateSigningKey("oauth");
    const tokens = [
      await accessToken({ now: Date.now() - 3600_000 }),
      await accessToken({}, forger),
      await accessToken({ audience: "other" }),
      await accessToken({ issuer: "https://evil.test" }),
    ];
    for (const t of tokens) {
      const res = await hello(t, goodBody);
      expect(res.statusCode).toBe(401);
      expect(res.json().error).toBe("invalid_token");
    }
  });

  it("an attach ticket is not an access token → 401", async () => {
    const admitted = (await hello(await accessToken(), goodBody)).json();
    const res = await hello(admitted.attachTicket, goodBody);
    expect(res.statusCode).toBe(401);
  });

  it("missing node.connect scope → 403 insufficient_scope", async () => {
    const res = await hello(await accessToken({ scopes: ["metrics.read"] }), goodBody);
    expect(res.statusCode).toBe(403);
    expect(res.json().error).toBe("insufficient_scope");
  });

  it.each([
    ["wildcard outside the allowed patterns", ["*.other.net"]],
    ["bare wildcard", ["*"]],
    ["mid-label wildcard", ["a.*.fame.fabric"]],
    ["domain outside the allowed list", ["api.evil.com"]],
    ["suffix trick", ["evilfame.fabric"]],
    ["not DNS", ["bad_name.fame.fabric"]],
    ["uppercase", ["API.fame.fabric"]],
  ])("%s → 403 logical_not_allowed", async (_n, requestedLogicals) => {
    const res = await hello(await accessToken(), { instanceId: "i", requestedLogicals });
    expect(res.statusCode).toBe(403);
    expect(res.json().error).toBe("logical_not_allowed");
  });

  it.each([
    ["array body", [1, 2]],
    ["unknown field", { ...goodBody, admin: true }],
    ["logical not a string", { instanceId: "i", requestedLogicals: [7] }],
    ["bad instanceId", { instanceId: "has space", requestedLogicals: ["a.fame.fabric"] }],
    [
      "too many logicals",
      { instanceId: "i", requestedLogicals: Array.from({ length: 33 }, (_, i) => `n${i}.fame.fabric`) },
    ],
    ["bad capability", { ...goodBody, capabilities: ["sp ace"] }],
    ["bad systemId", { ...goodBody, systemId: "a-b" }],
  ])("%s → 400 invalid_request", async (_n, body) => {
    const res = await hello(await accessToken(), body);
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe("invalid_request");
  });

  it("malformed JSON → 400, oversized → 413", async () => {
    const token = await accessToken();
    const bad = await hello(token, "{oops", { "content-type": "application/json" });
    expect(bad.statusCode).toBe(400);
    const big = await hello(token, { ...goodBody, pad: "x".repeat(17 * 1024) });
    expect(big.statusCode).toBe(413);
  });

  it("serves /health and a public-only JWKS", async () => {
    expect((await svc.app.inject({ method: "GET", url: "/health" })).json().status).toBe("ok");
    const jwks = (await svc.app.inject({ method: "GET", url: "/.well-known/jwks.json" })).json();
    expect(jwks.keys[0]).toMatchObject({ kid: "welcome", crv: "Ed25519" });
    expect(jwks.keys[0].d).toBeUndefined();
  });
});

describe("policy options", () => {
  it("honours a proposed systemId only when allowed; unreachable OAuth2 keys → 503", async () => {
    const other = await startWelcomeService({
      ...config,
      allowClientSystemId: true,
      wildcardPatterns: [],
      accessToken: {
        ...OAUTH,
        keys: remoteAccessTokenKeys(new URL("http://127.0.0.1:9/jwks.json"), undefined),
      },
    });
    try {
      const res = await other.app.inject({
        method: "POST",
        url: "/fame/v1/welcome/hello",
        headers: { authorization: `Bearer ${await accessToken()}` },
        payload: goodBody,
      });
      expect(res.statusCode).toBe(503);
      expect(res.json().error).toBe("temporarily_unavailable");
    } finally {
      await other.close();
    }
    const local = await startWelcomeService({ ...config, allowClientSystemId: true, wildcardPatterns: [] });
    try {
      const inject = async (body: unknown) =>
        local.app.inject({
          method: "POST",
          url: "/fame/v1/welcome/hello",
          headers: { authorization: `Bearer ${await accessToken()}` },
          payload: body as Record<string, unknown>,
        });
      const res = await inject({
        instanceId: "i",
        requestedLogicals: ["api.fame.fabric"],
        systemId: "keepMe",
      });
      expect(res.json().assignedPath).toBe("/sentinel0/keepMe");
      expect((await inject(goodBody)).json().error).toBe("logical_not_allowed");
    } finally {
      await local.close();
    }
  });

  it("answers 503 with Retry-After and retry_after once its admissions and queue are full", async () => {
    const gated = await startWelcomeService({ ...config, admitting: { maxActive: 1, maxQueued: 1 } });
    try {
      const tokens = await Promise.all([accessToken(), accessToken(), accessToken(), accessToken()]);
      const answers = await Promise.all(
        tokens.map((t) =>
          gated.app.inject({
            method: "POST",
            url: "/fame/v1/welcome/hello",
            headers: { authorization: `Bearer ${t}` },
            payload: goodBody,
          }),
        ),
      );
      // one in progress, one waiting its turn, the rest told when to come back (the tokens are
      // checked before the gate, each in its own time: which two come first is not fixed)
      expect(answers.map((a) => a.statusCode).sort()).toEqual([200, 200, 503, 503]);
      for (const a of answers.filter((x) => x.statusCode === 503)) {
        const body = a.json() as { error: string; retry_after: number };
        expect(body.error).toBe("temporarily_unavailable");
        expect(body.retry_after).toBeGreaterThanOrEqual(1);
        expect(a.headers["retry-after"]).toBe(String(body.retry_after));
      }
      const health = await gated.app.inject({ method: "GET", url: "/health" });
      expect(health.json()).toMatchObject({ admitting: 0, admitQueued: 0 });
      // a refused token gives its turn back too
      expect((await hello(undefined, goodBody)).statusCode).toBe(401);
      const bad = await gated.app.inject({
        method: "POST",
        url: "/fame/v1/welcome/hello",
        headers: { authorization: "Bearer not.a.jwt" },
        payload: goodBody,
      });
      expect(bad.statusCode).toBe(401);
      const again = await gated.app.inject({
        method: "POST",
        url: "/fame/v1/welcome/hello",
        headers: { authorization: `Bearer ${await accessToken()}` },
        payload: goodBody,
      });
      expect(again.statusCode).toBe(200);
    } finally {
      await gated.close();
    }
  });

  it("shares its queue out by credential, and a token guesser holds no place in it", async () => {
    const gated = await startWelcomeService({ ...config, admitting: { maxActive: 1, maxQueued: 2 } });
    const post = (token: string) =>
      gated.app.inject({
        method: "POST",
        url: "/fame/v1/welcome/hello",
        headers: { authorization: `Bearer ${token}` },
        payload: goodBody,
      });
    try {
      const flood = await accessToken();
      const other = await accessToken({ clientId: "node-b" });
      const forged = await accessToken({ clientId: "node-b" }, await generateSigningKey("forger"));
      const answers = await Promise.all([
        ...Array.from({ length: 6 }, () => post(flood)),
        ...Array.from({ length: 6 }, () => post(forged)),
        post(other),
      ]);
      const codes = answers.map((a) => a.statusCode);
      // the flood's newest place went to node-b; the forged tokens never queued
      expect(codes.slice(6, 12)).toEqual([401, 401, 401, 401, 401, 401]);
      expect(codes[12]).toBe(200);
      expect(codes.slice(0, 6).filter((c) => c === 200)).toHaveLength(2);
      expect(codes.slice(0, 6).filter((c) => c === 503)).toHaveLength(4);
    } finally {
      await gated.close();
    }
  });
});
