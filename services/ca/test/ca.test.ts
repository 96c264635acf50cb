import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RunningService } from "@fame/http-service/server";
import { createNodeCsr, importPrivateKeyPem, verifyNodeCertificate } from "@fame/identity";
import { generateDevPki } from "@fame/identity/dev";
import { createLogger } from "@fame/logger";
import { sidFromPath } from "@fame/protocol";
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CaConfig, GrantUseCounter, startCaService } from "../src/index.js";

const ID = { systemId: "inproc", assignedPath: "/t/inproc", logicals: ["x.fame.fabric"] };
let dir: string;
let svc: RunningService;
let config: CaConfig;
let welcomeKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "fame-ca-unit-"));
  const { files } = await generateDevPki({ dir });
  const welcome = await generateKeyPair("EdDSA", { crv: "Ed25519" });
  welcomeKey = welcome.privateKey;
  config = {
    host: "127.0.0.1",
    port: 0,
    tls: null,
    trustDomain: "fame.fabric",
    issuerCertPem: readFileSync(files.intermediateCert, "utf8"),
    issuerKey: await importPrivateKeyPem(readFileSync(files.intermediateKey, "utf8")),
    trustBundlePem: readFileSync(files.trustBundle, "utf8"),
    defaultTtlSec: 900,
    maxTtlSec: 3600,
    welcome: {
      issuer: "https://welcome.test",
      keys: createLocalJWKSet({
        keys: [{ ...(await exportJWK(welcome.publicKey)), kid: "w", alg: "EdDSA" }],
      }),
    },
    logger: createLogger({ name: "ca-test", level: "silent" }),
  };
  svc = await startCaService(config);
});

afterAll(async () => {
  await svc?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function token(key = welcomeKey): Promise<string> {
  return new SignJWT({
    system_id: ID.systemId,
    assigned_path: ID.assignedPath,
    sid: sidFromPath(ID.assignedPath),
    accepted_logicals: ID.logicals,
    instance_id: "i1",
  })
    .setProtectedHeader({ alg: "EdDSA", typ: "fame-ca-grant+jwt", kid: "w" })
    .setIssuer("https://welcome.test")
    .setAudience("fame-ca")
    .setSubject(ID.systemId)
    .setJti(`j-${Math.random().toString(36).slice(2)}`)
    .setIssuedAt()
    .setExpirationTime("2m")
    .sign(key);
}

describe("CA service in-process", () => {
  it("issues with the default ttl and caps requested ttls at the maximum", async () => {
    for (const [ttlSec, expected] of [
      [undefined, 900],
      [999_999, 3600],
    ] as const) {
      const csr = await createNodeCsr(ID);
      const res = await svc.app.inject({
        method: "POST",
        url: "/fame/v1/ca/sign",
        headers: { authorization: `Bearer ${await token()}` },
        payload: { csr: csr.csrPem, ...(ttlSec ? { ttlSec } : {}) },
      });
      expect(res.statusCode).toBe(200);
      const body = res.json() as { certificatePem: string; chainPem: string; expiresAt: string };
      const left = (Date.parse(body.expiresAt) - Date.now()) / 1000;
      expect(left).toBeGreaterThan(expected - 10);
      expect(left).toBeLessThanOrEqual(expected);
      const node = await verifyNodeCertificate({
        chain: [body.certificatePem, body.chainPem],
        trustBundlePem: config.trustBundlePem,
      });
      expect(node.systemId).toBe(ID.systemId);
    }
  });

  it("sets WWW-Authenticate on 401", async () => {
    const res = await svc.app.inject({ method: "POST", url: "/fame/v1/ca/sign", payload: { csr: "x" } });
    expect(res.statusCode).toBe(401);
    expect(res.headers["www-authenticate"]).toBe('Bearer error="invalid_token"');
  });
});

describe("GrantUseCounter", () => {
  it("allows maxUses presentations per live grant, forgets expired ones and refuses when full", () => {
    let now = 1_000_000;
    const c = new GrantUseCounter(2, 2, 0, () => now);
    const exp = now / 1000 + 10;
    expect([c.use("a", exp), c.use("a", exp), c.use("a", exp)]).toEqual(["ok", "ok", "exhausted"]);
    expect(c.use("b", exp)).toBe("ok");
    expect(c.use("c", exp)).toBe("full");
    now += 11_000;
    expect(c.use("c", now / 1000 + 10)).toBe("ok");
    expect(c.use("a", now / 1000 + 10)).toBe("ok");
  });

  it("answers 503 with Retry-After and retry_after once its signings and queue are full", async () => {
    const gated = await startCaService({ ...config, signing: { maxActive: 1, maxQueued: 0 } });
    try {
      const csr = await createNodeCsr(ID);
      const tokens = await Promise.all([token(), token(), token()]);
      const answers = await Promise.all(
        tokens.map((t) =>
          gated.app.inject({
            method: "POST",
            url: "/fame/v1/ca/sign",
            headers: { authorization: `Bearer ${t}` },
            payload: { csr: csr.csrPem },
          }),
        ),
      );
      // grants are checked before the gate, each in its own time: which one gets the turn varies
      expect(answers.map((a) => a.statusCode).sort()).toEqual([200, 503, 503]);
      for (const a of answers.filter((x) => x.statusCode === 503)) {
        const body = a.json() as { error: string; retry_after: number };
        expect(body.error).toBe("temporarily_unavailable");
        expect(body.retry_after).toBeGreaterThanOrEqual(1);
        expect(a.headers["retry-after"]).toBe(String(body.retry_after));
      }
      // the turn was given back: the next signing goes through
      const again = await gated.app.inject({
        method: "POST",
        url: "/fame/v1/ca/sign",
        headers: { authorization: `Bearer ${await token()}` },
        payload: { csr: csr.csrPem },
      });
      expect(again.statusCode).toBe(200);
    } finally {
      await gated.close();
    }
  });

  it("checks a grant before it queues: forged grants hold no place", async () => {
    const gated = await startCaService({ ...config, signing: { maxActive: 1, maxQueued: 0 } });
    try {
      const csr = await createNodeCsr(ID);
      const forger = await generateKeyPair("EdDSA", { crv: "Ed25519" });
      const forged = await token(forger.privateKey);
      const good = await token();
      const sign = (t: string) =>
        gated.app.inject({
          method: "POST",
          url: "/fame/v1/ca/sign",
          headers: { authorization: `Bearer ${t}` },
          payload: { csr: csr.csrPem },
        });
      const answers = await Promise.all([...Array.from({ length: 5 }, () => sign(forged)), sign(good)]);
      expect(answers.map((a) => a.statusCode)).toEqual([401, 401, 401, 401, 401, 200]);
    } finally {
      await gated.close();
    }
  });
});
