import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { sidFromPath } from "@fame/protocol";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AdmissionError, type AdmitNodeOptions, admitNode } from "../src/admission/index.js";
import { generateSigningKey, type SigningKey, signAttachTicket, signCaGrant } from "../src/tokens/index.js";

/**
 * admitNode against scripted fake servers (plain HTTP on loopback): each
 * server misbehaviour must surface as an AdmissionError naming the step and
 * the server's own error code. The happy path runs against the real services
 * in the integration test.
 */
type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;
const routes = new Map<string, Handler>();
const seen: { url: string; headers: IncomingMessage["headers"]; body: string }[] = [];
let server: Server;
let base: string;
let key: SigningKey;

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

beforeAll(async () => {
  key = await generateSigningKey("w");
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString();
    });
    req.on("end", () => {
      seen.push({ url: req.url ?? "", headers: req.headers, body });
      const h = routes.get(req.url ?? "");
      if (h) h(req, body, res);
      else json(res, 404, { error: "not_found" });
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const identity = {
  systemId: "sys1",
  assignedPath: "/sentinel0/sys1",
  acceptedLogicals: ["*.fame.fabric"],
  instanceId: "i1",
};

async function helloAnswer(patch: Record<string, unknown> = {}) {
  const ticket = await signAttachTicket(key, {
    ...identity,
    issuer: "w",
    audience: "fame-sentinel",
    ttlSec: 60,
  });
  const grant = await signCaGrant(key, { ...identity, issuer: "w", ttlSec: 60 });
  return {
    systemId: identity.systemId,
    assignedPath: identity.assignedPath,
    sid: sidFromPath(identity.assignedPath),
    acceptedLogicals: identity.acceptedLogicals,
    attachTicket: ticket.token,
    transport: { url: "wss://localhost:8000/fame/v1/attach/ws/downstream" },
    caGrant: { url: `${base}/ca/sign`, token: grant.token },
    expiresAt: new Date().toISOString(),
    ...patch,
  };
}

const opts = (): AdmitNodeOptions => ({
  tokenUrl: `${base}/oauth/token`,
  clientId: "node a",
  clientSecret: "p:ss+word",
  welcomeUrl: `${base}/`,
  trustBundlePem: "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
  instanceId: "i1",
  requestedLogicals: ["*.fame.fabric"],
  timeoutMs: 2000,
});

async function failure(p: Promise<unknown>): Promise<AdmissionError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AdmissionError);
  return err as AdmissionError;
}

beforeEach(() => {
  routes.clear();
  seen.length = 0;
  routes.set("/oauth/token", (_req, _b, res) =>
    json(res, 200, { access_token: "at.at.at", token_type: "Bearer" }),
  );
});

describe("admitNode failures", () => {
  it("without a trust bundle fails before any request", async () => {
    const err = await failure(admitNode({ ...opts(), trustBundlePem: undefined }));
    expect([err.step, err.code]).toEqual(["verify", "trust_bundle_required"]);
    expect(seen).toHaveLength(0);
  });

  it("token: carries the server's RFC 6749 code; sends form-encoded Basic credentials", async () => {
    routes.set("/oauth/token", (_req, _b, res) =>
      json(res, 401, { error: "invalid_client", error_description: "client authentication failed" }),
    );
    const err = await failure(admitNode(opts()));
    expect([err.step, err.code, err.status]).toEqual(["token", "invalid_client", 401]);
    // the refusal names the settings a user gets wrong
    expect(err.message).toMatch(
      /client authentication failed \(check FAME_ADMISSION_CLIENT_ID and FAME_ADMISSION_CLIENT_SECRET/,
    );
    const auth = String(seen[0]?.headers.authorization);
    expect(Buffer.from(auth.replace("Basic ", ""), "base64").toString()).toBe("node+a:p%3Ass%2Bword");
    expect(seen[0]?.body).toBe("grant_type=client_credentials&scope=node.connect");
  });

  it("token: an answer without access_token is bad_response", async () => {
    routes.set("/oauth/token", (_req, _b, res) => json(res, 200, { token_type: "Bearer" }));
    const err = await failure(admitNode(opts()));
    expect([err.step, err.code]).toEqual(["token", "bad_response"]);
  });

  it("token: a server that never answers hits the step timeout", async () => {
    routes.set("/oauth/token", () => undefined);
    const err = await failure(admitNode({ ...opts(), timeoutMs: 200 }));
    expect([err.step, err.code]).toEqual(["token", "timeout"]);
  });

  it("token: nobody listening is a network error", async () => {
    const err = await failure(admitNode({ ...opts(), tokenUrl: "http://127.0.0.1:9/oauth/token" }));
    expect([err.step, err.code]).toEqual(["token", "network"]);
  });

  it("a saturated service's retry_after rides on the error (503/429 only, at most 300 s)", async () => {
    const cases: [number, unknown, number | undefined][] = [
      [503, 3, 3],
      [429, 0, 0],
      [503, 99_999, 300],
      [503, "3", undefined],
      [503, 1.5, undefined],
      [400, 3, undefined],
    ];
    for (const [status, hint, expected] of cases) {
      routes.set("/fame/v1/welcome/hello", (_req, _b, res) =>
        json(res, status, { error: "temporarily_unavailable", error_description: "busy", retry_after: hint }),
      );
      const err = await failure(admitNode(opts()));
      expect([err.step, err.code, err.retryAfterSec]).toEqual(["hello", "temporarily_unavailable", expected]);
    }
    routes.set("/fame/v1/welcome/hello", async (_req, _b, res) => json(res, 200, await helloAnswer()));
    routes.set("/ca/sign", (_req, _b, res) =>
      json(res, 503, { error: "temporarily_unavailable", error_description: "busy", retry_after: 2 }),
    );
    const err = await failure(admitNode(opts()));
    expect([err.step, err.code, err.retryAfterSec]).toEqual(["sign", "temporarily_unavailable", 2]);
  });

  it("hello: carries Welcome's error code and sends the bearer token", async () => {
    routes.set("/fame/v1/welcome/hello", (_req, _b, res) =>
      json(res, 403, {
        error: "logical_not_allowed",
        error_description: "*.fame.fabric: wildcard not allowed",
      }),
    );
    const err = await failure(admitNode(opts()));
    expect([err.step, err.code, err.status]).toEqual(["hello", "logical_not_allowed", 403]);
    const hello = seen.find((s) => s.url === "/fame/v1/welcome/hello");
    expect(hello?.headers.authorization).toBe("Bearer at.at.at");
    expect(JSON.parse(hello?.body ?? "{}")).toEqual({
      instanceId: "i1",
      requestedLogicals: ["*.fame.fabric"],
    });
  });

  it.each([
    ["sid not matching the path", { sid: "abc" }],
    ["logicals wider than requested", { acceptedLogicals: ["*.fabric"] }],
    [
      "ticket for another identity",
      { systemId: "other", assignedPath: "/sentinel0/other", sid: sidFromPath("/sentinel0/other") },
    ],
    ["ticket not a JWT", { attachTicket: "nope" }],
    ["CA URL of another scheme", { caGrant: { url: "ftp://x/sign", token: "t" } }],
    ["missing transport", { transport: undefined }],
    ["transport.urls not a list", { transport: { url: "wss://a/x", urls: "wss://b/x" } }],
    ["transport.urls of another scheme", { transport: { url: "wss://a/x", urls: ["https://b/x"] } }],
    [
      "transport.urls longer than 64",
      { transport: { url: "wss://a/x", urls: Array.from({ length: 65 }, (_, i) => `wss://s${i}/x`) } },
    ],
  ])("hello: %s is bad_response", async (_n, patch) => {
    const answer = await helloAnswer(patch);
    routes.set("/fame/v1/welcome/hello", (_req, _b, res) => json(res, 200, answer));
    const err = await failure(admitNode(opts()));
    expect([err.step, err.code]).toEqual(["hello", "bad_response"]);
  });

  it("sign: carries the CA's error code and presents the CA grant", async () => {
    const answer = await helloAnswer();
    routes.set("/fame/v1/welcome/hello", (_req, _b, res) => json(res, 200, answer));
    routes.set("/ca/sign", (_req, _b, res) =>
      json(res, 403, { error: "grant_mismatch", error_description: "nope" }),
    );
    const err = await failure(admitNode(opts()));
    expect([err.step, err.code]).toEqual(["sign", "grant_mismatch"]);
    const sign = seen.find((s) => s.url === "/ca/sign");
    expect(sign?.headers.authorization).toBe(`Bearer ${answer.caGrant.token}`);
    expect(JSON.parse(sign?.body ?? "{}").csr).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----/);
  });

  it("sign: a non-JSON error page becomes http_<status>", async () => {
    const answer = await helloAnswer();
    routes.set("/fame/v1/welcome/hello", (_req, _b, res) => json(res, 200, answer));
    routes.set("/ca/sign", (_req, _b, res) => res.writeHead(502).end());
    const err = await failure(admitNode(opts()));
    expect([err.step, err.code]).toEqual(["sign", "http_502"]);
  });

  it("verify: a CA answering with a certificate that does not verify is caught", async () => {
    const answer = await helloAnswer();
    routes.set("/fame/v1/welcome/hello", (_req, _b, res) => json(res, 200, answer));
    const junk = `-----BEGIN CERTIFICATE-----\n${Buffer.from("not a certificate").toString("base64")}\n-----END CERTIFICATE-----\n`;
    routes.set("/ca/sign", (_req, _b, res) =>
      json(res, 200, { certificatePem: junk, chainPem: "", expiresAt: "x" }),
    );
    const err = await failure(admitNode(opts()));
    expect(err.step).toBe("verify");
    expect(err.code).toMatch(/^cert_/);
  });
});
