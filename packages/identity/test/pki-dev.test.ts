import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { createServer, request } from "node:https";
import { type AddressInfo, isIP } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevPkiResult, generateDevPki } from "../src/dev.js";
import { decodeNameConstraints, OID_NAME_CONSTRAINTS } from "../src/pki/name-constraints.js";
import { x509 } from "../src/pki/x509.js";

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "fame-devpki-"));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const mode = (p: string) => statSync(p).mode & 0o777;

/** GET / over real TLS with only the dev trust bundle as CA; resolves with the body. */
function httpsGet(port: number, servername: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: "/",
        servername: isIP(servername) ? undefined : servername,
        ca,
        headers: { host: servername },
      },
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => {
          body += c.toString();
        });
        res.on("end", () => resolve(body));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("generateDevPki", () => {
  let dir: string;
  let first: DevPkiResult;

  beforeAll(async () => {
    dir = tempDir();
    first = await generateDevPki({ dir, serverNames: ["fame.test"] });
  });

  it("writes every file, keys 0600 and public files 0644", () => {
    expect(first.created).toBe(true);
    const secret = [
      "rootKey",
      "intermediateKey",
      "serverKey",
      "oauth2Clients",
      "oauth2SigningKey",
      "welcomeSigningKey",
      "welcomeNodeIdKey",
      "adminToken",
      "devEnv",
      "agentEnv",
      "clientEnv",
    ];
    for (const [role, path] of Object.entries(first.files)) {
      expect(mode(path), role).toBe(secret.includes(role) ? 0o600 : 0o644);
    }
    expect(first.files.rootCert).toBe(join(dir, "root-ca.pem"));
    expect(mode(join(dir, "secrets"))).toBe(0o700);
    // the sentinel's operator token: a long random secret, in no env file nodes read
    const adminToken = readFileSync(first.files.adminToken, "utf8").trim();
    expect(adminToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // Welcome's node-id HMAC key: 32 random bytes, in no env file either
    const nodeIdKey = readFileSync(first.files.welcomeNodeIdKey, "utf8").trim();
    expect(Buffer.from(nodeIdKey, "base64url")).toHaveLength(32);
    for (const [role, path] of Object.entries(first.files))
      if (role.endsWith("Env")) {
        expect(readFileSync(path, "utf8")).not.toContain(adminToken);
        expect(readFileSync(path, "utf8")).not.toContain(nodeIdKey);
      }
    expect(first.files.oauth2Clients).toBe(join(dir, "secrets", "oauth2-clients.json"));
  });

  it("is idempotent", async () => {
    const before = readFileSync(first.files.rootKey, "utf8");
    const again = await generateDevPki({ dir, serverNames: ["fame.test"] });
    expect(again.created).toBe(false);
    expect(again.written).toEqual([]);
    expect(readFileSync(first.files.rootKey, "utf8")).toBe(before);
  });

  it("builds the documented hierarchy", () => {
    const root = new x509.X509Certificate(readFileSync(first.files.rootCert, "utf8"));
    const int = new x509.X509Certificate(readFileSync(first.files.intermediateCert, "utf8"));
    expect(readFileSync(first.files.trustBundle, "utf8")).toBe(readFileSync(first.files.rootCert, "utf8"));
    expect(root.notAfter.getTime() - Date.now()).toBeGreaterThan(9.9 * 365 * 24 * 3600_000);
    expect(root.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(true);
    const bc = int.getExtension(x509.BasicConstraintsExtension)!;
    expect([bc.ca, bc.pathLength, bc.critical]).toEqual([true, 0, true]);
    expect(int.getExtension(x509.KeyUsagesExtension)?.usages).toBe(
      x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
    );
    expect(int.getExtension(x509.SubjectKeyIdentifierExtension)).not.toBeNull();
    expect(int.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId).toBe(
      root.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId,
    );
    const nc = int.extensions.find((e) => e.type === OID_NAME_CONSTRAINTS)!;
    expect(nc.critical).toBe(true);
    expect(decodeNameConstraints(new Uint8Array(nc.value)).permittedUris).toEqual(["fame.fabric"]);
  });

  it("writes the dev secrets in the agreed shapes", () => {
    const clients = JSON.parse(readFileSync(first.files.oauth2Clients, "utf8"));
    // two credentials: agents (may serve pools) and clients (call only)
    expect(clients.clients.map((x: { client_id: string }) => x.client_id)).toEqual([
      "fame-dev-agent",
      "fame-dev-client",
    ]);
    const [agent, c] = clients.clients;
    for (const x of [agent, c]) {
      expect(Buffer.from(x.client_secret, "base64url")).toHaveLength(32);
      expect(x.scopes).toEqual(["node.connect"]);
    }
    expect(agent.client_secret).not.toBe(c.client_secret);
    for (const f of [first.files.oauth2SigningKey, first.files.welcomeSigningKey]) {
      const jwk = JSON.parse(readFileSync(f, "utf8"));
      expect(jwk).toMatchObject({ kty: "OKP", crv: "Ed25519", alg: "EdDSA" });
      expect(typeof jwk.d).toBe("string");
      expect(typeof jwk.kid).toBe("string");
    }
    // dev.env is the client's (least privilege); agent.env the agent's
    for (const f of [first.files.devEnv, first.files.clientEnv]) {
      const env = readFileSync(f, "utf8");
      expect(env).toContain("FAME_ADMISSION_CLIENT_ID=fame-dev-client\n");
      expect(env).toContain(`FAME_ADMISSION_CLIENT_SECRET=${c.client_secret}\n`);
    }
    const agentEnv = readFileSync(first.files.agentEnv, "utf8");
    expect(agentEnv).toContain("FAME_ADMISSION_CLIENT_ID=fame-dev-agent\n");
    expect(agentEnv).toContain(`FAME_ADMISSION_CLIENT_SECRET=${agent.client_secret}\n`);
  });

  it("serves real TLS to Node clients trusting only the bundle, for every name", async () => {
    const server = createServer(
      { cert: readFileSync(first.files.serverCert), key: readFileSync(first.files.serverKey) },
      (_req, res) => res.end("ok"),
    );
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const { port } = server.address() as AddressInfo;
      const ca = readFileSync(first.files.trustBundle, "utf8");
      for (const name of ["localhost", "127.0.0.1", "sentinel", "ca", "fame.test"]) {
        expect(await httpsGet(port, name, ca)).toBe("ok");
      }
      const otherCa = readFileSync((await generateDevPki({ dir: tempDir() })).files.trustBundle, "utf8");
      await expect(httpsGet(port, "localhost", otherCa)).rejects.toThrow();
      await expect(httpsGet(port, "not-in-cert.example", ca)).rejects.toThrow(/altnames|Hostname/i);
    } finally {
      server.close();
    }
    // TLS 1.2 too (ECDHE-ECDSA suites carry the Ed25519 signature).
    const tls12 = createServer(
      {
        cert: readFileSync(first.files.serverCert),
        key: readFileSync(first.files.serverKey),
        maxVersion: "TLSv1.2",
      },
      (_req, res) => res.end("ok12"),
    );
    await new Promise<void>((r) => tls12.listen(0, "127.0.0.1", r));
    try {
      const { port } = tls12.address() as AddressInfo;
      expect(await httpsGet(port, "localhost", readFileSync(first.files.trustBundle, "utf8"))).toBe("ok12");
    } finally {
      tls12.close();
    }
  });

  it("repairs only what is missing or invalid, and tightens loosened key modes", async () => {
    const rootBefore = readFileSync(first.files.rootCert, "utf8");
    unlinkSync(first.files.serverCert);
    writeFileSync(first.files.welcomeSigningKey, "{ broken");
    chmodSync(first.files.rootKey, 0o644);
    const res = await generateDevPki({ dir, serverNames: ["fame.test"] });
    expect(res.written.sort()).toEqual(["serverCert", "serverKey", "welcomeSigningKey"]);
    expect(readFileSync(first.files.rootCert, "utf8")).toBe(rootBefore);
    expect(mode(first.files.rootKey)).toBe(0o600);
  });

  it("regenerates the server certificate when new names are requested, everything with force", async () => {
    const more = await generateDevPki({ dir, serverNames: ["fame.test", "extra.test"] });
    expect(more.written.sort()).toEqual(["serverCert", "serverKey"]);
    const forced = await generateDevPki({ dir, force: true });
    expect(forced.written).toHaveLength(Object.keys(forced.files).length);
  });

  it("regenerates the CA when a key no longer matches its certificate", async () => {
    const d = tempDir();
    const a = await generateDevPki({ dir: d });
    const b = await generateDevPki({ dir: tempDir() });
    writeFileSync(a.files.intermediateKey, readFileSync(b.files.intermediateKey));
    const res = await generateDevPki({ dir: d });
    expect(res.written).toContain("intermediateCert");
    expect(res.written).toContain("serverCert");
  });

  it("can issue an ECDSA P-256 TLS certificate instead", async () => {
    const res = await generateDevPki({ dir: tempDir(), tlsKeyAlgorithm: "ECDSA-P256" });
    const cert = new x509.X509Certificate(readFileSync(res.files.serverCert, "utf8"));
    expect(cert.publicKey.algorithm.name).toBe("ECDSA");
  });

  it("refuses invalid server names", async () => {
    await expect(generateDevPki({ dir: tempDir(), serverNames: ["bad name"] })).rejects.toThrow(
      /server name/,
    );
  });
});
