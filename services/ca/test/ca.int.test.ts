import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { requestRaw } from "@fame/http-service/client";
import { createNodeCsr, verifyNodeCertificate } from "@fame/identity";
import { generateDevPki } from "@fame/identity/dev";
import { sidFromPath } from "@fame/protocol";
import { freePort, pidAlive, type RunningProcess, startProcess, stopAll } from "@fame/testkit";
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const WELCOME_ISSUER = "https://welcome.test";
const KID = "welcome-test-1";

type SigningKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

let dir: string;
let bundle: string;
let welcomeKey: SigningKey;
let forgerKey: SigningKey;
let ca: RunningProcess;
let base: string;

let jtiCounter = 0;
function grant(
  systemId: string,
  assignedPath: string,
  logicals: string[],
  opts: {
    key?: SigningKey;
    aud?: string;
    iss?: string;
    typ?: string;
    exp?: number;
    iat?: number;
    claims?: JWTPayload;
  } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    system_id: systemId,
    assigned_path: assignedPath,
    sid: sidFromPath(assignedPath),
    accepted_logicals: logicals,
    instance_id: "inst-1",
    ...opts.claims,
  })
    .setProtectedHeader({ alg: "EdDSA", typ: opts.typ ?? "fame-ca-grant+jwt", kid: KID })
    .setIssuer(opts.iss ?? WELCOME_ISSUER)
    .setAudience(opts.aud ?? "fame-ca")
    .setSubject(systemId)
    .setJti(`grant-${process.pid}-${++jtiCounter}`)
    .setIssuedAt(opts.iat ?? now)
    .setExpirationTime(opts.exp ?? now + 120)
    .sign(opts.key ?? welcomeKey);
}

async function sign(body: unknown, token?: string, raw?: string) {
  const res = await requestRaw(`${base}/fame/v1/ca/sign`, {
    method: "POST",
    ca: bundle,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: raw ?? JSON.stringify(body),
  });
  const text = res.body.toString("utf8");
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, string>) : {} };
}

const N1 = {
  systemId: "node_one",
  assignedPath: "/edge/node_one",
  logicals: ["api.fame.fabric", "web.fame.fabric"],
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "fame-ca-int-"));
  const { files } = await generateDevPki({ dir });
  bundle = readFileSync(files.trustBundle, "utf8");
  const welcome = await generateKeyPair("EdDSA", { crv: "Ed25519" });
  welcomeKey = welcome.privateKey;
  forgerKey = (await generateKeyPair("EdDSA", { crv: "Ed25519" })).privateKey;
  const jwk = { ...(await exportJWK(welcome.publicKey)), kid: KID, alg: "EdDSA", use: "sig" };
  writeFileSync(join(dir, "welcome-jwks.json"), JSON.stringify({ keys: [jwk] }));
  const port = await freePort();
  base = `https://localhost:${port}`;
  ca = await startProcess({
    name: "ca",
    script: BIN,
    env: {
      FAME_CERTS_DIR: dir,
      FAME_CA_PORT: String(port),
      FAME_WELCOME_JWKS_FILE: join(dir, "welcome-jwks.json"),
      FAME_WELCOME_ISSUER: WELCOME_ISSUER,
      FAME_LOG_LEVEL: "info",
    },
    readyUrl: `${base}/health`,
    ca: bundle,
  });
});

afterAll(async () => {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});

describe("CA service (real process, TLS)", () => {
  it("signs a CSR authorised by a grant; the chain verifies with the right identity", async () => {
    const csr = await createNodeCsr(N1);
    const res = await sign(
      { csr: csr.csrPem, ttlSec: 600 },
      await grant(N1.systemId, N1.assignedPath, N1.logicals),
    );
    expect(res.status).toBe(200);
    const expiresAt = Date.parse(res.json["expiresAt"]!);
    expect(expiresAt - Date.now()).toBeGreaterThan(590_000);
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(600_000);
    const node = await verifyNodeCertificate({
      chain: [res.json["certificatePem"]!, res.json["chainPem"]!],
      trustBundlePem: bundle,
      expectedSystemId: N1.systemId,
    });
    expect(node.systemId).toBe(N1.systemId);
    expect(node.sid).toBe(sidFromPath(N1.assignedPath));
    expect(node.path).toBe(N1.assignedPath);
    expect(node.logicals).toEqual(N1.logicals);
    expect(Buffer.from(node.publicKey)).toEqual(Buffer.from(csr.publicKey));
  });

  it("serves the trust bundle", async () => {
    const res = await requestRaw(`${base}/fame/v1/ca/bundle`, { ca: bundle });
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toMatch(/application\/x-pem-file/);
    expect(res.body.toString()).toBe(bundle);
  });

  it("answers 401 for missing, wrong-audience, wrong-issuer, wrong-type, expired and forged grants", async () => {
    const csr = (await createNodeCsr(N1)).csrPem;
    const past = Math.floor(Date.now() / 1000) - 600;
    const cases: [string, string | undefined][] = [
      ["missing", undefined],
      ["garbage", "not.a.jwt"],
      ["audience", await grant(N1.systemId, N1.assignedPath, N1.logicals, { aud: "someone-else" })],
      ["issuer", await grant(N1.systemId, N1.assignedPath, N1.logicals, { iss: "https://evil.test" })],
      ["typ", await grant(N1.systemId, N1.assignedPath, N1.logicals, { typ: "fame-attach+jwt" })],
      ["expired", await grant(N1.systemId, N1.assignedPath, N1.logicals, { iat: past, exp: past + 120 })],
      ["forged", await grant(N1.systemId, N1.assignedPath, N1.logicals, { key: forgerKey })],
      ["bad sid", await grant(N1.systemId, N1.assignedPath, N1.logicals, { claims: { sid: "abc" } })],
    ];
    for (const [label, token] of cases) {
      const res = await sign({ csr }, token);
      expect(res.status, label).toBe(401);
      expect(res.json["error"], label).toBe("invalid_token");
    }
  });

  it("answers 400 csr_signature_invalid for a CSR whose key does not match its signature", async () => {
    const csr = await createNodeCsr(N1);
    const other = await createNodeCsr(N1);
    const der = Buffer.from(csr.csrPem.replace(/-----[A-Z ]+-----|\s/g, ""), "base64");
    der.set(other.publicKey, der.indexOf(Buffer.from(csr.publicKey)));
    const pem = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString("base64")}\n-----END CERTIFICATE REQUEST-----\n`;
    const res = await sign({ csr: pem }, await grant(N1.systemId, N1.assignedPath, N1.logicals));
    expect(res.status).toBe(400);
    expect(res.json["error"]).toBe("csr_signature_invalid");
  });

  it("answers 403 when CSR and grant name different nodes or logicals", async () => {
    const n2 = { systemId: "node_two", assignedPath: "/edge/node_two", logicals: ["api.fame.fabric"] };
    const csrForN2 = await createNodeCsr(n2);
    let res = await sign({ csr: csrForN2.csrPem }, await grant(N1.systemId, N1.assignedPath, N1.logicals));
    expect([res.status, res.json["error"]]).toEqual([403, "csr_identity_mismatch"]);

    const csrForN1 = await createNodeCsr(N1);
    res = await sign({ csr: csrForN1.csrPem }, await grant(n2.systemId, n2.assignedPath, n2.logicals));
    expect([res.status, res.json["error"]]).toEqual([403, "csr_identity_mismatch"]);

    const greedy = await createNodeCsr({ ...N1, logicals: [...N1.logicals, "admin.fame.fabric"] });
    res = await sign({ csr: greedy.csrPem }, await grant(N1.systemId, N1.assignedPath, N1.logicals));
    expect([res.status, res.json["error"]]).toEqual([403, "csr_logical_not_granted"]);
  });

  it("answers 413 for an oversized body and 400 for malformed JSON or shapes", async () => {
    const token = await grant(N1.systemId, N1.assignedPath, N1.logicals);
    let res = await sign(undefined, token, JSON.stringify({ csr: "A".repeat(70 * 1024) }));
    expect(res.status).toBe(413);
    res = await sign(undefined, token, "{not json");
    expect(res.status).toBe(400);
    for (const body of [
      [],
      { csr: 5 },
      { csr: "x", extra: 1 },
      { csr: "x", ttlSec: 1 },
      { csr: "x", ttlSec: "60" },
    ]) {
      res = await sign(body, await grant(N1.systemId, N1.assignedPath, N1.logicals));
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    res = await sign(
      { csr: "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n" },
      token,
    );
    expect([res.status, res.json["error"]]).toEqual([400, "csr_invalid"]);
  });

  it("lets a grant be retried a few times but not reused at scale", async () => {
    const token = await grant(N1.systemId, N1.assignedPath, N1.logicals);
    // malformed requests are refused before a use is counted: they do not spend the grant
    for (let i = 0; i < 4; i++) expect((await sign({ csr: 5 }, token)).status).toBe(400);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++)
      statuses.push((await sign({ csr: (await createNodeCsr(N1)).csrPem }, token)).status);
    expect(statuses).toEqual([200, 200, 200, 401]);
  });

  it("is still healthy, logged refusals without leaking tokens, and stops on SIGTERM with exit 0", async () => {
    const health = await requestRaw(`${base}/health`, { ca: bundle });
    expect(health.status).toBe(200);
    const out = ca.output();
    expect(out).toContain('"event":"ca.refused"');
    expect(out).toContain('"code":"csr_signature_invalid"');
    expect(out).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.eyJ/);
    expect(pidAlive(ca.pid)).toBe(true);
    expect(await ca.stop("SIGTERM")).toBe(0);
    expect(pidAlive(ca.pid)).toBe(false);
  });

  it("refuses bad settings at start, naming them (exit 2)", async () => {
    const bad = await startProcess({
      name: "ca-bad",
      script: BIN,
      env: {
        FAME_CERTS_DIR: dir,
        FAME_CA_CERT_TTL_SEC: "10",
        FAME_WELCOME_JWKS_FILE: join(dir, "welcome-jwks.json"),
      },
    });
    expect(await bad.exited).toBe(2);
    expect(bad.output()).toContain("FAME_CA_CERT_TTL_SEC");
    const wrongBundle = await startProcess({
      name: "ca-bad-bundle",
      script: BIN,
      env: {
        FAME_CERTS_DIR: dir,
        FAME_CA_CERTS: join(dir, "server.pem"),
        FAME_WELCOME_JWKS_FILE: join(dir, "welcome-jwks.json"),
        FAME_CA_PORT: "0",
      },
    });
    expect(await wrongBundle.exited).toBe(2);
    expect(wrongBundle.output()).toContain("FAME_CA_CERTS");
  });
});
