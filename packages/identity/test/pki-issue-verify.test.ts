import type { webcrypto } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sidFromPath } from "@fame/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateDevPki } from "../src/dev.js";
import { commonNameDer, signCertificate, signCsr } from "../src/pki/cert-builder.js";
import { certificateExtensions } from "../src/pki/extensions.js";
import { decodeFameExtensionValue, fameExtensionDer } from "../src/pki/fame-extension.js";
import {
  CertificateError,
  type CertificateErrorCode,
  CsrError,
  type CsrErrorCode,
  clearCertificateCache,
  createNodeCsr,
  importEd25519Seed,
  importPrivateKeyPem,
  issueNodeCertificate,
  parseNodeCsr,
  verifyNodeCertificate,
} from "../src/pki/index.js";
import { generateEd25519 } from "../src/pki/keys.js";
import { FAME_PRINCIPAL_EXTENSION_OID, principalExtensionDer } from "../src/pki/principal-extension.js";
import { x509 } from "../src/pki/x509.js";

interface Pki {
  dir: string;
  intermediatePem: string;
  intermediateKeyPem: string;
  bundlePem: string;
}

async function makePki(): Promise<Pki> {
  const dir = mkdtempSync(join(tmpdir(), "fame-pki-test-"));
  const { files } = await generateDevPki({ dir });
  return {
    dir,
    intermediatePem: readFileSync(files.intermediateCert, "utf8"),
    intermediateKeyPem: readFileSync(files.intermediateKey, "utf8"),
    bundlePem: readFileSync(files.trustBundle, "utf8"),
  };
}

function pemToDer(pem: string): Uint8Array {
  return new Uint8Array(Buffer.from(pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, ""), "base64"));
}

function derToPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der)
    .toString("base64")
    .replace(/.{1,64}/g, "$&\n");
  return `-----BEGIN ${label}-----\n${b64}-----END ${label}-----\n`;
}

async function expectCsrError(p: Promise<unknown>, code: CsrErrorCode): Promise<void> {
  await expect(p).rejects.toSatisfy((e: unknown) => e instanceof CsrError && e.code === code);
}

async function expectCertError(p: Promise<unknown>, code: CertificateErrorCode): Promise<void> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CertificateError);
  expect((err as CertificateError).code, (err as Error).message).toBe(code);
}

const ID = {
  systemId: "node_1",
  assignedPath: "/edge/node_1",
  logicals: ["api.fame.fabric", "*.svc.fame.fabric"],
};

let pki: Pki;
let other: Pki;

beforeAll(async () => {
  pki = await makePki();
  other = await makePki();
});
afterAll(() => {
  for (const p of [pki, other]) rmSync(p.dir, { recursive: true, force: true });
});

async function issue(overrides: Partial<Parameters<typeof issueNodeCertificate>[0]> = {}, csrId = ID) {
  const csr = await createNodeCsr(csrId);
  const issued = await issueNodeCertificate({
    csrPem: csr.csrPem,
    issuerCertPem: pki.intermediatePem,
    issuerKey: pki.intermediateKeyPem,
    expect: ID,
    ...overrides,
  });
  return { csr, issued };
}

describe("createNodeCsr / parseNodeCsr", () => {
  it("produces an Ed25519 CSR whose requested identity parses back", async () => {
    const csr = await createNodeCsr(ID);
    expect(csr.seed).toHaveLength(32);
    expect(csr.publicKey).toHaveLength(32);
    const parsed = await parseNodeCsr(csr.csrPem);
    expect(parsed.spiffeId).toBe("spiffe://fame.fabric/nodes/node_1");
    expect(parsed.systemId).toBe("node_1");
    expect(parsed.claims).toEqual({
      sid: sidFromPath(ID.assignedPath),
      path: ID.assignedPath,
      logicals: ID.logicals,
    });
    expect(Buffer.from(parsed.publicKey)).toEqual(Buffer.from(csr.publicKey));
  });

  it("the raw seed is the CSR key (node:crypto/WebCrypto can sign with it)", async () => {
    const csr = await createNodeCsr(ID);
    const key = await importEd25519Seed(csr.seed);
    const msg = new TextEncoder().encode("hello");
    const sig = await crypto.subtle.sign("Ed25519", key, msg);
    const pub = await crypto.subtle.importKey("raw", csr.publicKey, "Ed25519", false, ["verify"]);
    expect(await crypto.subtle.verify("Ed25519", pub, sig, msg)).toBe(true);
  });

  it("rejects invalid local input early", async () => {
    await expect(createNodeCsr({ ...ID, systemId: "bad id" })).rejects.toThrow(TypeError);
    await expect(createNodeCsr({ ...ID, assignedPath: "nope" })).rejects.toThrow(TypeError);
  });

  it("refuses a CSR whose signature does not match its key (proof of possession)", async () => {
    const csr = await createNodeCsr(ID);
    const der = pemToDer(csr.csrPem);
    const badSig = der.slice();
    badSig[badSig.length - 1]! ^= 0x01;
    await expectCsrError(parseNodeCsr(derToPem("CERTIFICATE REQUEST", badSig)), "csr_signature_invalid");

    // Swap in another key: the signature was made by the original one.
    const stranger = await createNodeCsr(ID);
    const at = Buffer.from(der).indexOf(Buffer.from(csr.publicKey));
    expect(at).toBeGreaterThan(0);
    const swapped = der.slice();
    swapped.set(stranger.publicKey, at);
    await expectCsrError(parseNodeCsr(derToPem("CERTIFICATE REQUEST", swapped)), "csr_signature_invalid");
  });

  it("refuses garbage, oversize and non-Ed25519 CSRs", async () => {
    await expectCsrError(parseNodeCsr("not a pem"), "csr_invalid");
    await expectCsrError(parseNodeCsr(42), "csr_invalid");
    await expectCsrError(
      parseNodeCsr(derToPem("CERTIFICATE REQUEST", Uint8Array.of(0x30, 0x03, 1, 2, 3))),
      "csr_invalid",
    );
    await expectCsrError(parseNodeCsr("A".repeat(50 * 1024)), "csr_too_large");
    const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ])) as {
      privateKey: webcrypto.CryptoKey;
      publicKey: webcrypto.CryptoKey;
    };
    const ec = await x509.Pkcs10CertificateRequestGenerator.create({
      name: "CN=node_1",
      keys,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
      extensions: [
        new x509.SubjectAlternativeNameExtension([
          { type: "url", value: "spiffe://fame.fabric/nodes/node_1" },
        ]),
      ],
    });
    await expectCsrError(parseNodeCsr(ec.toString("pem")), "csr_unsupported_key");
  });
});

describe("issueNodeCertificate", () => {
  it("issues a leaf that verifies with the right identity", async () => {
    const before = Date.now();
    const { csr, issued } = await issue();
    expect(issued.spiffeId).toBe("spiffe://fame.fabric/nodes/node_1");
    expect(issued.serialNumber).toMatch(/^[0-9a-f]{32}$/);
    expect(issued.notBefore.getTime()).toBeLessThanOrEqual(before - 59_000);
    expect(issued.notAfter.getTime() - before).toBeGreaterThan(3590_000);
    expect(issued.notAfter.getTime() - before).toBeLessThanOrEqual(3601_000);

    const node = await verifyNodeCertificate({
      chain: [issued.certificatePem, pki.intermediatePem],
      trustBundlePem: pki.bundlePem,
      expectedSystemId: "node_1",
    });
    expect(node).toMatchObject({
      systemId: "node_1",
      sid: sidFromPath(ID.assignedPath),
      path: ID.assignedPath,
      logicals: ID.logicals,
      spiffeId: "spiffe://fame.fabric/nodes/node_1",
    });
    expect(Buffer.from(node.publicKey)).toEqual(Buffer.from(csr.publicKey));
    expect(node.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(node.notAfter.getTime()).toBe(issued.notAfter.getTime());

    const cert = new x509.X509Certificate(issued.certificatePem);
    expect(cert.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(false);
    const ku = cert.getExtension(x509.KeyUsagesExtension)!;
    expect(ku.critical).toBe(true);
    expect(ku.usages).toBe(x509.KeyUsageFlags.digitalSignature);
    expect(cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages).toEqual([
      x509.ExtendedKeyUsage.clientAuth,
      x509.ExtendedKeyUsage.serverAuth,
    ]);
    expect(cert.getExtension(x509.SubjectKeyIdentifierExtension)).not.toBeNull();
    expect(cert.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId).toBe(
      new x509.X509Certificate(pki.intermediatePem).getExtension(x509.SubjectKeyIdentifierExtension)?.keyId,
    );
  });

  it("accepts a subset of the granted logicals, an x5c (base64 DER) chain, and caps the ttl", async () => {
    const { issued } = await issue(
      { ttlSec: 10 * 24 * 3600, maxTtlSec: 7200 },
      { ...ID, logicals: ["api.fame.fabric"] },
    );
    expect(issued.notAfter.getTime() - Date.now()).toBeLessThanOrEqual(7200_000);
    expect(issued.notAfter.getTime() - Date.now()).toBeGreaterThan(7100_000);
    const x5c = [issued.certificatePem, pki.intermediatePem].map((p) =>
      Buffer.from(pemToDer(p)).toString("base64"),
    );
    const node = await verifyNodeCertificate({ chain: x5c, trustBundlePem: pki.bundlePem });
    expect(node.logicals).toEqual(["api.fame.fabric"]);
  });

  it("accepts the issuer key as a CryptoKey", async () => {
    const { issued } = await issue({ issuerKey: await importPrivateKeyPem(pki.intermediateKeyPem) });
    expect(issued.systemId).toBe("node_1");
  });

  it("refuses a CSR for another systemId", async () => {
    await expectCsrError(
      issue({}, { ...ID, systemId: "node_2", assignedPath: ID.assignedPath }),
      "csr_identity_mismatch",
    );
  });

  it("refuses a CSR for another trust domain", async () => {
    await expectCsrError(
      issue({}, { ...ID, trustDomain: "other.domain" } as typeof ID),
      "csr_identity_mismatch",
    );
  });

  it("refuses a CSR for another path", async () => {
    await expectCsrError(issue({}, { ...ID, assignedPath: "/edge/elsewhere" }), "csr_path_mismatch");
  });

  it("refuses a logical outside the grant", async () => {
    await expectCsrError(
      issue({}, { ...ID, logicals: ["api.fame.fabric", "admin.fame.fabric"] }),
      "csr_logical_not_granted",
    );
  });

  it("refuses a bad ttl", async () => {
    await expect(issue({ ttlSec: 0 })).rejects.toThrow(RangeError);
  });

  it("names the grant's principal in the certificate, and none without one", async () => {
    const { issued } = await issue({ expect: { ...ID, principal: "team-billing" } });
    expect(issued.principal).toBe("team-billing");
    // in an extension of its own: the identity extension keeps exactly the members an older
    // node's strict reader accepts, and the principal's is not critical (older nodes skip it)
    const exts = certificateExtensions(pemToDer(issued.certificatePem));
    expect(exts.find((e) => e.oid === FAME_PRINCIPAL_EXTENSION_OID)?.critical).toBe(false);
    const identity = exts.find((e) => e.oid === "2.25.51331612338675646515821909819165592729")!;
    expect(Object.keys(decodeFameExtensionValue(identity.value))).toEqual(["sid", "path", "logicals"]);
    const node = await verifyNodeCertificate({
      chain: [issued.certificatePem, pki.intermediatePem],
      trustBundlePem: pki.bundlePem,
    });
    expect(node.principal).toBe("team-billing");
    const { issued: older } = await issue();
    const plain = await verifyNodeCertificate({
      chain: [older.certificatePem, pki.intermediatePem],
      trustBundlePem: pki.bundlePem,
    });
    expect(plain.principal).toBeUndefined();
    expect("principal" in plain).toBe(false);
  });

  it("refuses a CSR naming a principal of its own choosing", async () => {
    // a node asks to be certified as another credential's process, so its calls would be
    // counted in (and could exhaust) that credential's share at every replica
    const key = await generateEd25519();
    const spki = new Uint8Array(await globalThis.crypto.subtle.exportKey("spki", key.keys.publicKey));
    const san = new x509.SubjectAlternativeNameExtension([
      { type: "url", value: "spiffe://fame.fabric/nodes/node_1" },
    ]);
    const fame = fameExtensionDer({
      sid: sidFromPath(ID.assignedPath),
      path: ID.assignedPath,
      logicals: ID.logicals,
    });
    const der = await signCsr(
      commonNameDer("node_1"),
      spki,
      [new Uint8Array(san.rawData), fame, principalExtensionDer("victim-team")],
      key.keys.privateKey,
    );
    const csrPem = derToPem("CERTIFICATE REQUEST", der);
    const request = {
      csrPem,
      issuerCertPem: pki.intermediatePem,
      issuerKey: pki.intermediateKeyPem,
    };
    await expectCsrError(issueNodeCertificate({ ...request, expect: ID }), "csr_principal_mismatch");
    await expectCsrError(
      issueNodeCertificate({ ...request, expect: { ...ID, principal: "attacker-team" } }),
      "csr_principal_mismatch",
    );
    // naming the grant's own principal is harmless: the CA states it either way
    const same = await issueNodeCertificate({ ...request, expect: { ...ID, principal: "victim-team" } });
    expect(same.principal).toBe("victim-team");
  });
});

describe("verifyNodeCertificate", () => {
  it("refuses a chain to a different root", async () => {
    const { issued } = await issue();
    await expectCertError(
      verifyNodeCertificate({
        chain: [issued.certificatePem, pki.intermediatePem],
        trustBundlePem: other.bundlePem,
      }),
      "cert_untrusted",
    );
    // A leaf alone, without its intermediate, does not reach the root either.
    await expectCertError(
      verifyNodeCertificate({ chain: [issued.certificatePem], trustBundlePem: pki.bundlePem }),
      "cert_untrusted",
    );
    // Right bundle, wrong intermediate (another PKI's, same subject name).
    await expectCertError(
      verifyNodeCertificate({
        chain: [issued.certificatePem, other.intermediatePem],
        trustBundlePem: pki.bundlePem,
      }),
      "cert_signature_invalid",
    );
  });

  it("refuses an expired and a not-yet-valid leaf", async () => {
    const past = await issue({ now: new Date(Date.now() - 3 * 3600_000), ttlSec: 3600 });
    await expectCertError(
      verifyNodeCertificate({
        chain: [past.issued.certificatePem, pki.intermediatePem],
        trustBundlePem: pki.bundlePem,
      }),
      "cert_expired",
    );
    const future = await issue({ now: new Date(Date.now() + 2 * 3600_000) });
    await expectCertError(
      verifyNodeCertificate({
        chain: [future.issued.certificatePem, pki.intermediatePem],
        trustBundlePem: pki.bundlePem,
      }),
      "cert_not_yet_valid",
    );
  });

  it("re-checks time on cached verdicts", async () => {
    clearCertificateCache();
    const { issued } = await issue();
    const chain = [issued.certificatePem, pki.intermediatePem];
    await verifyNodeCertificate({ chain, trustBundlePem: pki.bundlePem });
    await expectCertError(
      verifyNodeCertificate({
        chain,
        trustBundlePem: pki.bundlePem,
        now: new Date(Date.now() + 2 * 3600_000),
      }),
      "cert_expired",
    );
    await expectCertError(
      verifyNodeCertificate({ chain, trustBundlePem: pki.bundlePem, expectedSystemId: "someone_else" }),
      "cert_spiffe_mismatch",
    );
    // The cache is keyed by bundle too: a cached verdict does not leak across trust bundles.
    await expectCertError(
      verifyNodeCertificate({ chain, trustBundlePem: other.bundlePem }),
      "cert_untrusted",
    );
  });

  it("keeps CA parses and CA signatures between leaves, never a forged intermediate's", async () => {
    clearCertificateCache();
    const a = await issue();
    const b = await issue();
    const good = (pem: string) =>
      verifyNodeCertificate({ chain: [pem, pki.intermediatePem], trustBundlePem: pki.bundlePem });
    expect((await good(a.issued.certificatePem)).systemId).toBe(ID.systemId);
    // a second leaf under the same (now remembered) intermediate still has its own signature checked
    expect((await good(b.issued.certificatePem)).fingerprint).not.toBe(
      (await good(a.issued.certificatePem)).fingerprint,
    );
    const forgedLeaf = pemToDer(b.issued.certificatePem);
    forgedLeaf[forgedLeaf.length - 3]! ^= 0x01;
    await expectCertError(good(derToPem("CERTIFICATE", forgedLeaf)), "cert_signature_invalid");
    // an intermediate with its signature flipped is another DER: nothing remembered applies, and
    // its (unchanged) key still signs the leaf, but it no longer leads to the root
    const forgedCa = pemToDer(pki.intermediatePem);
    forgedCa[forgedCa.length - 3]! ^= 0x01;
    await expectCertError(
      verifyNodeCertificate({
        chain: [a.issued.certificatePem, derToPem("CERTIFICATE", forgedCa)],
        trustBundlePem: pki.bundlePem,
      }),
      "cert_untrusted",
    );
    // and the remembered link is per anchor: the same intermediate under another bundle fails
    await expectCertError(
      verifyNodeCertificate({
        chain: [b.issued.certificatePem, pki.intermediatePem],
        trustBundlePem: other.bundlePem,
      }),
      "cert_untrusted",
    );
  });

  it("applies the intermediate's URI name constraints to the leaf", async () => {
    const otherDomain = { ...ID, trustDomain: "other.domain" };
    const csr = await createNodeCsr(otherDomain);
    const issued = await issueNodeCertificate({
      csrPem: csr.csrPem,
      issuerCertPem: pki.intermediatePem,
      issuerKey: pki.intermediateKeyPem,
      trustDomain: "other.domain",
      expect: ID,
    });
    await expectCertError(
      verifyNodeCertificate({
        chain: [issued.certificatePem, pki.intermediatePem],
        trustBundlePem: pki.bundlePem,
        trustDomain: "other.domain",
      }),
      "cert_name_constraint",
    );
    // With the default trust domain the SPIFFE check alone would not be reached: constraints come first.
    await expectCertError(
      verifyNodeCertificate({
        chain: [issued.certificatePem, pki.intermediatePem],
        trustBundlePem: pki.bundlePem,
      }),
      "cert_name_constraint",
    );
  });

  it("refuses a leaf whose FAME sid does not match its path", async () => {
    const csr = await createNodeCsr(ID);
    const spki = new Uint8Array(
      await crypto.subtle.exportKey(
        "spki",
        await crypto.subtle.importKey("raw", csr.publicKey, "Ed25519", true, ["verify"]),
      ),
    );
    const issuerDer = pemToDer(pki.intermediatePem);
    const issuerName = new Uint8Array(new x509.X509Certificate(issuerDer).subjectName.toArrayBuffer());
    const der = await signCertificate(
      {
        serial: Uint8Array.of(0x11, 0x22),
        issuerNameDer: issuerName,
        subjectNameDer: commonNameDer("node_1"),
        notBefore: new Date(Date.now() - 60_000),
        notAfter: new Date(Date.now() + 3600_000),
        spki,
        extensions: [
          new Uint8Array(
            new x509.SubjectAlternativeNameExtension([
              { type: "url", value: "spiffe://fame.fabric/nodes/node_1" },
            ]).rawData,
          ),
          fameExtensionDer({ sid: sidFromPath("/somewhere/else"), path: ID.assignedPath, logicals: [] }),
        ],
      },
      await importPrivateKeyPem(pki.intermediateKeyPem),
    );
    await expectCertError(
      verifyNodeCertificate({
        chain: [derToPem("CERTIFICATE", der), pki.intermediatePem],
        trustBundlePem: pki.bundlePem,
      }),
      "cert_sid_mismatch",
    );
  });

  it("refuses a leaf used as an issuer (CA flag)", async () => {
    const { csr, issued } = await issue();
    const csr2 = await createNodeCsr(ID);
    const grandchild = await issueNodeCertificate({
      csrPem: csr2.csrPem,
      issuerCertPem: issued.certificatePem,
      issuerKey: await importEd25519Seed(csr.seed),
      expect: ID,
    });
    await expectCertError(
      verifyNodeCertificate({
        chain: [grandchild.certificatePem, issued.certificatePem, pki.intermediatePem],
        trustBundlePem: pki.bundlePem,
      }),
      "cert_not_ca",
    );
  });

  it("checks the expected systemId", async () => {
    const { issued } = await issue();
    await expectCertError(
      verifyNodeCertificate({
        chain: [issued.certificatePem, pki.intermediatePem],
        trustBundlePem: pki.bundlePem,
        expectedSystemId: "node_2",
      }),
      "cert_spiffe_mismatch",
    );
  });

  it("bounds and validates its input", async () => {
    const { issued } = await issue();
    const chain = [issued.certificatePem, pki.intermediatePem];
    await expectCertError(
      verifyNodeCertificate({ chain: [], trustBundlePem: pki.bundlePem }),
      "cert_malformed",
    );
    await expectCertError(
      verifyNodeCertificate({ chain: Array(6).fill(issued.certificatePem), trustBundlePem: pki.bundlePem }),
      "cert_chain_too_long",
    );
    await expectCertError(
      verifyNodeCertificate({ chain: ["A".repeat(40_000)], trustBundlePem: pki.bundlePem }),
      "cert_malformed",
    );
    await expectCertError(
      verifyNodeCertificate({ chain: ["not base64!"], trustBundlePem: pki.bundlePem }),
      "cert_malformed",
    );
    await expectCertError(
      verifyNodeCertificate({ chain: ["AAAA"], trustBundlePem: pki.bundlePem }),
      "cert_malformed",
    );
    await expectCertError(
      verifyNodeCertificate({ chain: [42 as unknown as string], trustBundlePem: pki.bundlePem }),
      "cert_malformed",
    );
    // Trailing garbage inside the DER.
    const der = pemToDer(issued.certificatePem);
    const padded = Uint8Array.from([...der, 0]);
    await expectCertError(
      verifyNodeCertificate({
        chain: [derToPem("CERTIFICATE", padded), chain[1]!],
        trustBundlePem: pki.bundlePem,
      }),
      "cert_malformed",
    );
    // One flipped bit in the leaf signature.
    const flipped = der.slice();
    flipped[flipped.length - 1]! ^= 0x01;
    await expectCertError(
      verifyNodeCertificate({
        chain: [derToPem("CERTIFICATE", flipped), chain[1]!],
        trustBundlePem: pki.bundlePem,
      }),
      "cert_signature_invalid",
    );
  });
});
