import { createHash, randomBytes } from "node:crypto";
import { sidFromPath } from "@fame/protocol";
import { commonNameDer, signCertificate, subjectNameOf } from "./cert-builder.js";
import { parseNodeCsr } from "./csr.js";
import { CsrError, PkiConfigError } from "./errors.js";
import { certificateExtensions } from "./extensions.js";
import { type FameIdentityClaims, fameExtensionDer } from "./fame-extension.js";
import { importPrivateKeyPem } from "./keys.js";
import { DEFAULT_TRUST_DOMAIN, nodeSpiffeId } from "./names.js";
import { decodePemBlocks, encodePem } from "./pem.js";
import { principalExtensionDer } from "./principal-extension.js";
import type { CryptoKey } from "./webcrypto-types.js";
import { x509 } from "./x509.js";

export const DEFAULT_CERT_TTL_SEC = 3600;
export const DEFAULT_MAX_CERT_TTL_SEC = 24 * 3600;
/** Backdating absorbs clock skew between the CA and verifiers. */
export const NOT_BEFORE_SKEW_SEC = 60;

export interface IssueNodeCertificateOptions {
  /** Untrusted PKCS#10 PEM from the node. */
  csrPem: string;
  /** Issuing CA certificate (the intermediate), PEM. */
  issuerCertPem: string;
  /** Its Ed25519 private key, as a CryptoKey or PKCS#8 PEM. */
  issuerKey: CryptoKey | string;
  /** Requested lifetime; default 3600, capped at maxTtlSec and at the issuer's own expiry. */
  ttlSec?: number;
  /** Default 86400. */
  maxTtlSec?: number;
  /** Default "fame.fabric". */
  trustDomain?: string;
  /** What the caller has authorised (e.g. from a CA grant token). */
  expect: {
    systemId: string;
    assignedPath: string;
    logicals: readonly string[];
    /** the OAuth2 client the grant was made for: the certificate names it as its principal */
    principal?: string;
  };
  /** Clock override (tests, or backdated issuance); default now. */
  now?: Date;
}

export interface IssuedNodeCertificate {
  certificatePem: string;
  spiffeId: string;
  systemId: string;
  claims: FameIdentityClaims;
  /** the principal the certificate names (FAME principal extension), when the grant named one */
  principal?: string;
  /** Raw 32-byte Ed25519 key certified. */
  publicKey: Uint8Array;
  /** Hex serial number. */
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
}

/** 16 random bytes, top bit cleared (INTEGER stays positive) and first byte non-zero (stays 16 bytes). */
function randomSerial(): Uint8Array {
  const serial = new Uint8Array(randomBytes(16));
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  return serial;
}

function keyIdentifier(rawPublicKey: Uint8Array): string {
  // RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits.
  return createHash("sha1").update(rawPublicKey).digest("hex");
}

function extensionDer(ext: x509.Extension): Uint8Array {
  return new Uint8Array(ext.rawData);
}

/** Checks a CSR against what was authorised; each mismatch has its own code. */
function checkRequest(
  req: Awaited<ReturnType<typeof parseNodeCsr>>,
  trustDomain: string,
  expect: IssueNodeCertificateOptions["expect"],
): void {
  if (req.trustDomain !== trustDomain || req.systemId !== expect.systemId) {
    throw new CsrError(
      "csr_identity_mismatch",
      `csr requests ${req.spiffeId}, grant is for ${nodeSpiffeId(trustDomain, expect.systemId)}`,
    );
  }
  if (req.claims.path !== expect.assignedPath) {
    throw new CsrError("csr_path_mismatch", "csr path differs from the assigned path");
  }
  if (req.claims.sid !== sidFromPath(expect.assignedPath)) {
    throw new CsrError("csr_sid_mismatch", "csr sid is not the sid of the assigned path");
  }
  const granted = new Set(expect.logicals);
  const extra = req.claims.logicals.filter((l) => !granted.has(l));
  if (extra.length > 0) {
    throw new CsrError("csr_logical_not_granted", `csr requests logicals not granted: ${extra.join(", ")}`);
  }
  // The principal is the CA's to state: a request may name none, or the grant's own.
  if (req.principal !== undefined && req.principal !== expect.principal) {
    throw new CsrError("csr_principal_mismatch", "csr names a principal the grant was not made for");
  }
}

/**
 * Verify a node CSR (proof of possession, Ed25519 only, identity and logicals against `expect`)
 * and issue the node certificate from the intermediate. Throws CsrError for request problems,
 * PkiConfigError for unusable issuer material.
 */
export async function issueNodeCertificate(
  opts: IssueNodeCertificateOptions,
): Promise<IssuedNodeCertificate> {
  const trustDomain = opts.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  const maxTtl = opts.maxTtlSec ?? DEFAULT_MAX_CERT_TTL_SEC;
  const ttl = opts.ttlSec ?? DEFAULT_CERT_TTL_SEC;
  if (!Number.isInteger(ttl) || ttl <= 0) throw new RangeError("ttlSec must be a positive integer");
  if (!Number.isInteger(maxTtl) || maxTtl <= 0) throw new RangeError("maxTtlSec must be a positive integer");

  const req = await parseNodeCsr(opts.csrPem);
  checkRequest(req, trustDomain, opts.expect);

  let issuerDer: Uint8Array;
  let issuer: x509.X509Certificate;
  try {
    issuerDer = decodePemBlocks(opts.issuerCertPem, "CERTIFICATE", 8)[0]!;
    issuer = new x509.X509Certificate(issuerDer);
  } catch {
    throw new PkiConfigError("issuer certificate PEM cannot be parsed");
  }
  const issuerKey =
    typeof opts.issuerKey === "string" ? await importPrivateKeyPem(opts.issuerKey) : opts.issuerKey;
  if (issuerKey.algorithm.name !== "Ed25519")
    throw new PkiConfigError("node certificates are issued with an Ed25519 key");

  const issuerSki = certificateExtensions(issuerDer).find((e) => e.oid === "2.5.29.14");
  const issuerKeyId = issuerSki
    ? new x509.SubjectKeyIdentifierExtension(issuerSki.der).keyId
    : keyIdentifier(new Uint8Array(issuer.publicKey.rawData).subarray(-32));

  const now = opts.now ?? new Date();
  const notBefore = new Date(now.getTime() - NOT_BEFORE_SKEW_SEC * 1000);
  const wanted = now.getTime() + Math.min(ttl, maxTtl) * 1000;
  // A certificate outliving its issuer would just fail verification later; cap it here instead.
  const notAfter = new Date(Math.min(wanted, issuer.notAfter.getTime()));
  const serial = randomSerial();
  const claims: FameIdentityClaims = {
    sid: req.claims.sid,
    path: req.claims.path,
    logicals: [...req.claims.logicals],
  };
  const principal = opts.expect.principal;

  const der = await signCertificate(
    {
      serial,
      issuerNameDer: subjectNameOf(issuerDer),
      subjectNameDer: commonNameDer(req.systemId),
      notBefore,
      notAfter,
      spki: req.spki,
      extensions: [
        extensionDer(new x509.BasicConstraintsExtension(false, undefined, true)),
        extensionDer(new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)),
        extensionDer(
          new x509.ExtendedKeyUsageExtension([
            x509.ExtendedKeyUsage.clientAuth,
            x509.ExtendedKeyUsage.serverAuth,
          ]),
        ),
        extensionDer(new x509.SubjectKeyIdentifierExtension(keyIdentifier(req.publicKey))),
        extensionDer(new x509.AuthorityKeyIdentifierExtension(issuerKeyId)),
        extensionDer(new x509.SubjectAlternativeNameExtension([{ type: "url", value: req.spiffeId }], true)),
        fameExtensionDer(claims),
        ...(principal === undefined ? [] : [principalExtensionDer(principal)]),
      ],
    },
    issuerKey,
  );
  return {
    certificatePem: encodePem("CERTIFICATE", der),
    spiffeId: req.spiffeId,
    systemId: req.systemId,
    claims,
    ...(principal === undefined ? {} : { principal }),
    publicKey: req.publicKey,
    serialNumber: Buffer.from(serial).toString("hex"),
    notBefore: new Date(Math.floor(notBefore.getTime() / 1000) * 1000),
    notAfter: new Date(Math.floor(notAfter.getTime() / 1000) * 1000),
  };
}
