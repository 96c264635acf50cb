import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sidFromPath } from "@fame/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AccessTokenCache,
  AdmissionError,
  type AdmitNodeOptions,
  admitNode,
} from "../src/admission/index.js";
import { generateDevPki } from "../src/dev.js";
import { createNodeCsr, issueNodeCertificate, verifyNodeCertificate } from "../src/pki/index.js";
import {
  generateSigningKey,
  type SigningKey,
  signAttachTicket,
  signCaGrant,
  verifyCaGrant,
} from "../src/tokens/index.js";

/**
 * admitNode's happy path with the real PKI functions behind scripted HTTP
 * endpoints (no processes): token → hello → CSR → CA → verification.
 */
let dir: string;
let server: Server;
let base: string;
let welcomeKey: SigningKey;
let trustBundle: string;
let intermediatePem: string;
let intermediateKey: string;
/** how the fake CA misbehaves in a given test */
let caMode: "honest" | "other-key" = "honest";
/** tokens the fake OAuth2 handed out (tok-1, tok-2, …), and one the fake Welcome refuses */
let tokensIssued = 0;
let refusedToken: string | undefined;
/** certificates the fake CA signed */
let signsIssued = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "fame-admission-"));
  await generateDevPki({ dir });
  trustBundle = readFileSync(join(dir, "trust-bundle.pem"), "utf8");
  intermediatePem = readFileSync(join(dir, "intermediate-ca.pem"), "utf8");
  intermediateKey = readFileSync(join(dir, "intermediate-ca.key"), "utf8");
  welcomeKey = await generateSigningKey("welcome");

  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString();
    });
    req.on("end", () => {
      void route(req.url ?? "", req.headers.authorization ?? "", body).then(
        ([status, answer]) =>
          res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(answer)),
        (err: Error) =>
          res.writeHead(500).end(JSON.stringify({ error: "internal", error_description: err.message })),
      );
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

async function route(url: string, auth: string, body: string): Promise<[number, unknown]> {
  if (url === "/oauth/token")
    return [200, { access_token: `tok-${++tokensIssued}`, token_type: "Bearer", expires_in: 60 }];
  if (url === "/fame/v1/welcome/hello") {
    if (auth === `Bearer ${refusedToken}`)
      return [401, { error: "invalid_token", error_description: "token refused" }];
    const { instanceId, requestedLogicals } = JSON.parse(body) as {
      instanceId: string;
      requestedLogicals: string[];
    };
    const identity = {
      systemId: "node42",
      assignedPath: "/sentinel0/node42",
      acceptedLogicals: requestedLogicals,
      instanceId,
    };
    const ticket = await signAttachTicket(welcomeKey, {
      ...identity,
      issuer: "w",
      audience: "fame-sentinel",
      ttlSec: 120,
    });
    const grant = await signCaGrant(welcomeKey, { ...identity, issuer: "w", ttlSec: 120 });
    return [
      200,
      {
        ...identity,
        sid: sidFromPath(identity.assignedPath),
        attachTicket: ticket.token,
        // a cluster's answer: the placed sentinel, then every live one (it repeats, the node dedupes)
        transport: {
          url: "ws://127.0.0.1:1/attach",
          urls: ["ws://127.0.0.1:1/attach", "ws://127.0.0.1:2/attach", "ws://127.0.0.1:2/attach"],
        },
        caGrant: { url: `${base}/ca/sign`, token: grant.token },
        expiresAt: new Date(ticket.claims.exp * 1000).toISOString(),
      },
    ];
  }
  if (url === "/ca/sign") {
    signsIssued++;
    const grant = await verifyCaGrant(auth.replace(/^Bearer /, ""), {
      keys: { keys: [welcomeKey.publicJwk] },
      issuer: "w",
    });
    const expect = {
      systemId: grant.system_id,
      assignedPath: grant.assigned_path,
      logicals: grant.accepted_logicals,
    };
    let csrPem = (JSON.parse(body) as { csr: string }).csr;
    if (caMode === "other-key") {
      csrPem = (await createNodeCsr({ ...expect, logicals: [...expect.logicals] })).csrPem;
    }
    const issued = await issueNodeCertificate({
      csrPem,
      issuerCertPem: intermediatePem,
      issuerKey: intermediateKey,
      expect,
    });
    return [
      200,
      {
        certificatePem: issued.certificatePem,
        chainPem: intermediatePem,
        expiresAt: issued.notAfter.toISOString(),
      },
    ];
  }
  return [404, { error: "not_found" }];
}

const opts = (): AdmitNodeOptions => ({
  tokenUrl: `${base}/oauth/token`,
  clientId: "c",
  clientSecret: "s",
  welcomeUrl: base,
  trustBundlePem: trustBundle,
  instanceId: "inst",
  requestedLogicals: ["*.fame.fabric", "api.fame.fabric"],
});

describe("admitNode happy path", () => {
  it("returns a verified identity, certificate, key and x5c", async () => {
    caMode = "honest";
    const a = await admitNode(opts());
    expect(a).toMatchObject({
      systemId: "node42",
      assignedPath: "/sentinel0/node42",
      sid: sidFromPath("/sentinel0/node42"),
      acceptedLogicals: ["*.fame.fabric", "api.fame.fabric"],
      transportUrl: "ws://127.0.0.1:1/attach",
      transportUrls: ["ws://127.0.0.1:1/attach", "ws://127.0.0.1:2/attach"],
    });
    expect(a.x5c).toHaveLength(2); // leaf + intermediate, leaf first
    expect(a.seed).toHaveLength(32);
    expect(a.notBefore.getTime()).toBeLessThan(Date.now());
    expect(a.notAfter.getTime()).toBeGreaterThan(Date.now());
    expect(a.ticketExpiresAt.getTime()).toBeGreaterThan(Date.now());
    const node = await verifyNodeCertificate({
      chain: a.x5c,
      trustBundlePem: trustBundle,
      expectedSystemId: "node42",
    });
    expect(Buffer.from(node.publicKey).equals(Buffer.from(a.publicKey))).toBe(true);
  });

  it("catches a CA that certifies another key for the same identity", async () => {
    caMode = "other-key";
    const err = await admitNode(opts()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdmissionError);
    expect([(err as AdmissionError).step, (err as AdmissionError).code]).toEqual([
      "verify",
      "cert_key_mismatch",
    ]);
  });

  it("refuses a chain that does not lead to the trust bundle", async () => {
    caMode = "honest";
    const otherDir = mkdtempSync(join(tmpdir(), "fame-admission-other-"));
    try {
      await generateDevPki({ dir: otherDir });
      const foreign = readFileSync(join(otherDir, "trust-bundle.pem"), "utf8");
      const err = await admitNode({ ...opts(), trustBundlePem: foreign }).catch((e: unknown) => e);
      expect((err as AdmissionError).step).toBe("verify");
      expect((err as AdmissionError).code).toMatch(/^cert_/);
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
    }
  });
});

describe("admitNode with the previous admission", () => {
  it("keeps key and certificate while Welcome names the same identity, until half-life", async () => {
    caMode = "honest";
    const first = await admitNode(opts());
    const signs = signsIssued;
    const lifetime = first.notAfter.getTime() - first.notBefore.getTime();
    const again = await admitNode({ ...opts(), previous: first });
    expect(signsIssued).toBe(signs);
    expect(again.attachTicket).not.toBe(first.attachTicket);
    expect(Buffer.from(again.seed).equals(Buffer.from(first.seed))).toBe(true);
    expect(again.x5c).toEqual(first.x5c);
    expect(again.notAfter).toEqual(first.notAfter);

    // other logicals: the certificate would name the wrong ones
    const narrower = await admitNode({ ...opts(), requestedLogicals: ["api.fame.fabric"], previous: first });
    expect(signsIssued).toBe(signs + 1);
    expect(narrower.x5c[0]).not.toBe(first.x5c[0]);
    expect(Buffer.from(narrower.seed).equals(Buffer.from(first.seed))).toBe(false);

    // past half its lifetime (or before it starts): a new key and certificate
    const late = first.notBefore.getTime() + lifetime / 2 + 1;
    await admitNode({ ...opts(), previous: first, now: () => late });
    expect(signsIssued).toBe(signs + 2);
    await admitNode({ ...opts(), previous: first, now: () => first.notBefore.getTime() - 1 });
    expect(signsIssued).toBe(signs + 3);
  });
});

describe("admitNode with a kept access token", () => {
  it("reuses the token for the next admission, and fetches a new one when Welcome refuses it", async () => {
    caMode = "honest";
    const tokenCache = new AccessTokenCache();
    const before = tokensIssued;
    await admitNode({ ...opts(), tokenCache });
    await admitNode({ ...opts(), tokenCache });
    // one token for both (60 s lifetime, 30 s margin)
    expect(tokensIssued - before).toBe(1);
    // Welcome no longer takes it (revoked, keys rotated): one more try with a fresh token
    refusedToken = tokenCache.current();
    try {
      const a = await admitNode({ ...opts(), tokenCache });
      expect(a.systemId).toBe("node42");
      expect(tokensIssued - before).toBe(2);
      expect(tokenCache.current()).not.toBe(refusedToken);
      // a fresh token that is refused is not retried: the admission fails with Welcome's code
      tokenCache.clear();
      const fresh = tokensIssued + 1;
      refusedToken = `tok-${fresh}`;
      const err = await admitNode({ ...opts(), tokenCache }).catch((e: unknown) => e);
      expect([(err as AdmissionError).step, (err as AdmissionError).code]).toEqual([
        "hello",
        "invalid_token",
      ]);
      expect(tokensIssued).toBe(fresh);
    } finally {
      refusedToken = undefined;
    }
  });

  it("AccessTokenCache: kept until the margin, not kept without a lifetime", () => {
    let now = 1_000_000;
    const c = new AccessTokenCache(30_000, () => now);
    c.store("t", 60);
    expect(c.current()).toBe("t");
    now += 29_000;
    expect(c.current()).toBe("t");
    now += 2_000;
    expect(c.current()).toBeUndefined();
    c.store("u", undefined);
    expect(c.current()).toBeUndefined();
  });
});
