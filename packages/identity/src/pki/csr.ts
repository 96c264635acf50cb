import { sidFromPath } from "@fame/protocol";
import { commonNameDer, signCsr } from "./cert-builder.js";
import { CsrError } from "./errors.js";
import { csrExtensions, type RawExtension } from "./extensions.js";
import {
  type FameExtensionError,
  type FameIdentityClaims,
  fameExtensionDer,
  readFameExtension,
} from "./fame-extension.js";
import { ed25519RawFromSpki, generateEd25519 } from "./keys.js";
import {
  assertNodeIdentity,
  DEFAULT_TRUST_DOMAIN,
  nodeSpiffeId,
  parseSpiffeId,
  systemIdFromSpiffePath,
} from "./names.js";
import { decodePemBlocks, encodePem } from "./pem.js";
import { readPrincipalExtension } from "./principal-extension.js";
import { x509 } from "./x509.js";

/** A CSR carries at most a 20 KiB FAME extension plus small fixed parts; PEM adds a third. */
export const MAX_CSR_PEM_CHARS = 40 * 1024;

export interface CreateNodeCsrOptions {
  systemId: string;
  assignedPath: string;
  logicals: string[];
  /** Default "fame.fabric". */
  trustDomain?: string;
}

export interface NodeCsr {
  /** 32-byte Ed25519 private seed; keep it secret, sign with it later via node:crypto. */
  seed: Uint8Array;
  /** 32-byte raw Ed25519 public key the CSR (and the issued certificate) binds. */
  publicKey: Uint8Array;
  csrPem: string;
}

/** Generate a node key and a CSR asking for `spiffe://<td>/nodes/<systemId>` plus the FAME extension. */
export async function createNodeCsr(opts: CreateNodeCsrOptions): Promise<NodeCsr> {
  const trustDomain = opts.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  assertNodeIdentity({ ...opts, trustDomain });
  const key = await generateEd25519();
  const spki = new Uint8Array(await globalThis.crypto.subtle.exportKey("spki", key.keys.publicKey));
  const san = new x509.SubjectAlternativeNameExtension([
    { type: "url", value: nodeSpiffeId(trustDomain, opts.systemId) },
  ]);
  const fame = fameExtensionDer({
    sid: sidFromPath(opts.assignedPath),
    path: opts.assignedPath,
    logicals: [...opts.logicals],
  });
  const der = await signCsr(
    commonNameDer(opts.systemId),
    spki,
    [new Uint8Array(san.rawData), fame],
    key.keys.privateKey,
  );
  return { seed: key.seed, publicKey: key.publicKey, csrPem: encodePem("CERTIFICATE REQUEST", der) };
}

/** What a CSR asks for, after its proof of possession has been checked. */
export interface ParsedNodeCsr {
  spiffeId: string;
  trustDomain: string;
  systemId: string;
  claims: FameIdentityClaims;
  /** a principal the request names (the CA states its grant's; a request need name none) */
  principal?: string;
  /** Raw 32-byte Ed25519 public key. */
  publicKey: Uint8Array;
  /** The CSR's SubjectPublicKeyInfo, reused verbatim in the certificate. */
  spki: Uint8Array;
}

/** URI entries of a SAN extension; x509 throws on name forms it cannot render, which we treat as malformed. */
export function sanUris(ext: RawExtension): string[] {
  const san = new x509.SubjectAlternativeNameExtension(ext.der);
  return san.names.items.filter((n) => n.type === "url").map((n) => n.value);
}

function csrFail(code: ConstructorParameters<typeof CsrError>[0], message: string): never {
  throw new CsrError(code, message);
}

/**
 * Parse an untrusted PEM CSR and verify its self-signature (proof of possession of the key).
 * Only Ed25519 keys are accepted. Throws CsrError with a distinct code per failure.
 */
export async function parseNodeCsr(csrPem: unknown): Promise<ParsedNodeCsr> {
  if (typeof csrPem !== "string" || csrPem.length === 0) csrFail("csr_invalid", "csr must be a PEM string");
  if (csrPem.length > MAX_CSR_PEM_CHARS)
    csrFail("csr_too_large", `csr exceeds ${MAX_CSR_PEM_CHARS} characters`);
  let der: Uint8Array;
  try {
    const blocks = decodePemBlocks(csrPem, "CERTIFICATE REQUEST", 1);
    if (blocks.length !== 1) throw new TypeError("no CERTIFICATE REQUEST block");
    der = blocks[0]!;
  } catch (err) {
    csrFail("csr_invalid", `csr is not PEM: ${(err as Error).message}`);
  }
  let csr: x509.Pkcs10CertificateRequest;
  let extensions: RawExtension[];
  try {
    csr = new x509.Pkcs10CertificateRequest(der);
    extensions = csrExtensions(der);
  } catch {
    csrFail("csr_invalid", "csr is not a PKCS#10 structure");
  }
  const spki = new Uint8Array(csr.publicKey.rawData);
  const publicKey = ed25519RawFromSpki(spki);
  if (!publicKey) csrFail("csr_unsupported_key", "csr key must be Ed25519");
  if ((csr.signatureAlgorithm as { name?: string }).name !== "Ed25519")
    csrFail("csr_unsupported_key", "csr must be signed with Ed25519");
  let signatureOk = false;
  try {
    signatureOk = await csr.verify();
  } catch {
    signatureOk = false;
  }
  if (!signatureOk) csrFail("csr_signature_invalid", "csr signature does not verify with its public key");

  const sanExts = extensions.filter((e) => e.oid === "2.5.29.17");
  if (sanExts.length !== 1) csrFail("csr_invalid", "csr must request exactly one subjectAltName extension");
  let uris: string[];
  try {
    uris = sanUris(sanExts[0]!);
  } catch {
    csrFail("csr_invalid", "csr subjectAltName cannot be parsed");
  }
  if (uris.length !== 1) csrFail("csr_invalid", "csr must request exactly one URI SAN");
  const spiffeId = uris[0]!;
  const parsed = parseSpiffeId(spiffeId);
  const systemId = parsed ? systemIdFromSpiffePath(parsed.path) : null;
  if (!parsed || !systemId)
    csrFail("csr_identity_mismatch", "csr URI SAN is not a spiffe://<td>/nodes/<systemId> ID");

  let claims: FameIdentityClaims | null;
  try {
    claims = readFameExtension(extensions);
  } catch (err) {
    csrFail("csr_invalid", `csr FAME extension invalid: ${(err as FameExtensionError).message}`);
  }
  if (!claims) csrFail("csr_invalid", "csr lacks the FAME identity extension");
  let principal: string | undefined;
  try {
    principal = readPrincipalExtension(extensions);
  } catch (err) {
    csrFail("csr_invalid", `csr FAME principal extension invalid: ${(err as FameExtensionError).message}`);
  }
  return {
    spiffeId,
    trustDomain: parsed.trustDomain,
    systemId,
    claims,
    ...(principal === undefined ? {} : { principal }),
    publicKey,
    spki,
  };
}
