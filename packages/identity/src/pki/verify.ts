import { createHash } from "node:crypto";
import { sidFromPath } from "@fame/protocol";
import { type CertificateParts, certificateParts } from "./cert-parts.js";
import { CertificateError, type CertificateErrorCode } from "./errors.js";
import { certificateExtensions, type RawExtension } from "./extensions.js";
import { type FameIdentityClaims, readFameExtension } from "./fame-extension.js";
import { ed25519RawFromSpki } from "./keys.js";
import { LruCache } from "./lru.js";
import { decodeNameConstraints, nameConstraintViolation, OID_NAME_CONSTRAINTS } from "./name-constraints.js";
import { DEFAULT_TRUST_DOMAIN, parseSpiffeId, systemIdFromSpiffePath } from "./names.js";
import { decodeBase64Strict, decodePemBlocks } from "./pem.js";
import { readPrincipalExtension } from "./principal-extension.js";
import { loadTrustBundle, type TrustBundle } from "./trust-bundle.js";
import { x509 } from "./x509.js";

export const MAX_CHAIN_LENGTH = 5;
export const MAX_CERT_BYTES = 16 * 1024;
/** Base64 of MAX_CERT_BYTES, plus PEM line breaks (one per 64 chars) and armour. */
const MAX_ENTRY_CHARS = Math.ceil(((MAX_CERT_BYTES / 3) * 4 * 65) / 64) + 512;

export interface VerifyNodeCertificateOptions {
  /** Leaf first; each entry PEM or standard base64 DER (as in a JWS `x5c`). */
  chain: string[];
  /** PEM bundle of trust anchors. */
  trustBundlePem: string;
  now?: Date;
  /** Default "fame.fabric". */
  trustDomain?: string;
  /** When given, the SPIFFE ID must name this systemId. */
  expectedSystemId?: string;
}

export interface VerifiedNode {
  systemId: string;
  sid: string;
  path: string;
  logicals: string[];
  /** the OAuth2 client the node was admitted with, as its CA stated it (absent from older CAs) */
  principal?: string;
  spiffeId: string;
  /** Raw 32-byte Ed25519 public key of the leaf. */
  publicKey: Uint8Array;
  /** Earliest notAfter along the verified path: when this verdict stops holding. */
  notAfter: Date;
  /** Lowercase hex SHA-256 of the leaf DER. */
  fingerprint: string;
}

const OID_BASIC_CONSTRAINTS = "2.5.29.19";
const OID_KEY_USAGE = "2.5.29.15";
const OID_SAN = "2.5.29.17";
/** Critical extensions we evaluate; any other critical one makes the certificate unusable (RFC 5280 4.2). */
const UNDERSTOOD_CRITICAL = new Set([
  OID_BASIC_CONSTRAINTS,
  OID_KEY_USAGE,
  OID_SAN,
  OID_NAME_CONSTRAINTS,
  "2.5.29.37",
]);

interface ParsedCert {
  der: Uint8Array;
  cert: x509.X509Certificate;
  parts: CertificateParts;
  extensions: RawExtension[];
  label: string;
}

function fail(code: CertificateErrorCode, message: string): never {
  throw new CertificateError(code, message);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function decodeEntry(entry: unknown, index: number): Uint8Array {
  if (typeof entry !== "string" || entry.length === 0)
    fail("cert_malformed", `chain[${index}] is not a string`);
  if (entry.length > MAX_ENTRY_CHARS) fail("cert_malformed", `chain[${index}] is too large`);
  let der: Uint8Array | null = null;
  if (entry.includes("-----BEGIN")) {
    try {
      const blocks = decodePemBlocks(entry, "CERTIFICATE", 1);
      der = blocks.length === 1 ? blocks[0]! : null;
    } catch {
      der = null;
    }
  } else {
    der = decodeBase64Strict(entry);
  }
  if (!der) fail("cert_malformed", `chain[${index}] is neither a PEM certificate nor base64 DER`);
  if (der.length > MAX_CERT_BYTES) fail("cert_malformed", `chain[${index}] exceeds ${MAX_CERT_BYTES} bytes`);
  return der;
}

function parseCert(der: Uint8Array, label: string): ParsedCert {
  try {
    const cert = new x509.X509Certificate(der);
    return { der, cert, parts: certificateParts(der), extensions: certificateExtensions(der), label };
  } catch (err) {
    return fail("cert_malformed", `${label} cannot be parsed: ${(err as Error).message}`);
  }
}

/**
 * CA certificates (intermediates, anchors) are the same in every chain a process checks, while
 * each leaf is new (a node's certificate per admission). Parsing one with @peculiar/x509 and
 * checking its signature cost milliseconds: they are kept, by the SHA-256 of their DER, and
 * only the leaf is parsed and checked anew. What is kept is byte-identical input's parse and a
 * signature that verified, never a verdict on time: validity is checked on every path.
 */
const caParses = new LruCache<string, Omit<ParsedCert, "label">>(64);
/** "child (a CA certificate) is signed by parent", by the two DER digests; positive verdicts only */
const caLinks = new LruCache<string, true>(256);

function derDigest(der: Uint8Array): string {
  return createHash("sha256").update(der).digest("hex");
}

function parseCaCert(der: Uint8Array, label: string): ParsedCert {
  const key = derDigest(der);
  const hit = caParses.get(key);
  if (hit) return { ...hit, label };
  const parsed = parseCert(der, label);
  caParses.set(key, {
    der: parsed.der,
    cert: parsed.cert,
    parts: parsed.parts,
    extensions: parsed.extensions,
  });
  return parsed;
}

/** signedBy, remembered when the child is a CA certificate (never for a leaf: each is new) */
async function caSignedBy(child: ParsedCert, parent: ParsedCert, childIsLeaf: boolean): Promise<boolean> {
  if (childIsLeaf) return signedBy(child, parent);
  const key = `${derDigest(child.der)}<${derDigest(parent.der)}`;
  if (caLinks.get(key)) return true;
  const ok = await signedBy(child, parent);
  if (ok) caLinks.set(key, true);
  return ok;
}

async function signedBy(child: ParsedCert, parent: ParsedCert): Promise<boolean> {
  const alg = (child.cert.signatureAlgorithm as { name?: string }).name;
  if (alg !== "Ed25519" && alg !== "ECDSA") return false;
  try {
    return await child.cert.verify({ publicKey: parent.cert.publicKey, signatureOnly: true });
  } catch {
    return false;
  }
}

function ext(c: ParsedCert, oid: string): RawExtension | undefined {
  return c.extensions.find((e) => e.oid === oid);
}

function basicConstraints(c: ParsedCert): x509.BasicConstraintsExtension | null {
  const e = ext(c, OID_BASIC_CONSTRAINTS);
  if (!e) return null;
  try {
    return new x509.BasicConstraintsExtension(e.der);
  } catch {
    return fail("cert_malformed", `${c.label} basicConstraints cannot be parsed`);
  }
}

function keyUsage(c: ParsedCert): number | null {
  const e = ext(c, OID_KEY_USAGE);
  if (!e) return null;
  try {
    return new x509.KeyUsagesExtension(e.der).usages;
  } catch {
    return fail("cert_malformed", `${c.label} keyUsage cannot be parsed`);
  }
}

function subjectAltNames(c: ParsedCert): { uris: string[]; dns: string[] } {
  const e = ext(c, OID_SAN);
  if (!e) return { uris: [], dns: [] };
  try {
    const items = new x509.SubjectAlternativeNameExtension(e.der).names.items;
    return {
      uris: items.filter((n) => n.type === "url").map((n) => n.value),
      dns: items.filter((n) => n.type === "dns").map((n) => n.value),
    };
  } catch {
    return fail("cert_malformed", `${c.label} subjectAltName cannot be parsed`);
  }
}

/** Order the presented chain into [leaf, intermediates…, anchor], checking every signature. */
async function buildPath(certs: ParsedCert[], bundle: TrustBundle): Promise<ParsedCert[]> {
  const path: ParsedCert[] = [certs[0]!];
  let anchor: ParsedCert | null = null;
  for (let i = 1; i < certs.length; i++) {
    const root = bundle.roots.find((r) => sameBytes(r.der, certs[i]!.der));
    if (root) {
      // A presented root only counts when it is byte-identical to a configured anchor.
      if (i !== certs.length - 1) fail("cert_malformed", "certificates follow the root in the chain");
      anchor = certs[i]!;
      break;
    }
    path.push(certs[i]!);
  }
  for (let i = 0; i + 1 < path.length; i++) {
    const child = path[i]!;
    const parent = path[i + 1]!;
    if (!sameBytes(child.parts.issuerName, parent.parts.subjectName)) {
      fail("cert_untrusted", `${child.label} is not issued by ${parent.label}`);
    }
    if (!(await caSignedBy(child, parent, i === 0)))
      fail("cert_signature_invalid", `${child.label} signature does not verify`);
  }
  const last = path[path.length - 1]!;
  const lastIsLeaf = path.length === 1;
  const candidates = anchor
    ? [{ ...anchor, label: "trust anchor" }]
    : bundle.roots
        .filter((r) => sameBytes(r.parts.subjectName, last.parts.issuerName))
        .map((r) => parseCaCert(r.der, "trust anchor"));
  for (const candidate of candidates) {
    if (
      sameBytes(last.parts.issuerName, candidate.parts.subjectName) &&
      (await caSignedBy(last, candidate, lastIsLeaf))
    )
      return [...path, candidate];
  }
  return fail("cert_untrusted", "chain does not lead to a certificate of the trust bundle");
}

function checkValidity(path: ParsedCert[], now: Date): void {
  for (const c of path) {
    if (now.getTime() < c.cert.notBefore.getTime()) fail("cert_not_yet_valid", `${c.label} is not valid yet`);
    if (now.getTime() > c.cert.notAfter.getTime()) fail("cert_expired", `${c.label} has expired`);
  }
}

function checkExtensionsAndRoles(path: ParsedCert[]): void {
  for (const c of path) {
    const unknown = c.extensions.find((e) => e.critical && !UNDERSTOOD_CRITICAL.has(e.oid));
    if (unknown)
      fail("cert_critical_extension", `${c.label} has unrecognised critical extension ${unknown.oid}`);
  }
  const leaf = path[0]!;
  if (basicConstraints(leaf)?.ca) fail("cert_key_usage", "leaf certificate is a CA certificate");
  const leafUsage = keyUsage(leaf);
  if (leafUsage !== null && (leafUsage & x509.KeyUsageFlags.digitalSignature) === 0) {
    fail("cert_key_usage", "leaf keyUsage lacks digitalSignature");
  }
  for (let k = 1; k < path.length; k++) {
    const ca = path[k]!;
    const bc = basicConstraints(ca);
    if (!bc?.ca) fail("cert_not_ca", `${ca.label} is not a CA certificate`);
    // Intermediates strictly between this CA and the leaf.
    if (bc.pathLength !== undefined && k - 1 > bc.pathLength) {
      fail("cert_path_length", `${ca.label} pathLenConstraint ${bc.pathLength} exceeded`);
    }
    const usage = keyUsage(ca);
    if (usage !== null && (usage & x509.KeyUsageFlags.keyCertSign) === 0) {
      fail("cert_key_usage", `${ca.label} keyUsage lacks keyCertSign`);
    }
  }
}

function checkNameConstraints(path: ParsedCert[]): void {
  for (let k = 1; k < path.length; k++) {
    const e = ext(path[k]!, OID_NAME_CONSTRAINTS);
    if (!e) continue;
    let nc: ReturnType<typeof decodeNameConstraints>;
    try {
      nc = decodeNameConstraints(e.value);
    } catch (err) {
      fail("cert_name_constraint", `${path[k]!.label} name constraints unusable: ${(err as Error).message}`);
    }
    for (let j = 0; j < k; j++) {
      const violation = nameConstraintViolation(nc, subjectAltNames(path[j]!));
      if (violation) fail("cert_name_constraint", `${path[j]!.label}: ${violation} of ${path[k]!.label}`);
    }
  }
}

function leafIdentity(leaf: ParsedCert, trustDomain: string): { spiffeId: string; systemId: string } {
  const { uris } = subjectAltNames(leaf);
  if (uris.length !== 1) fail("cert_spiffe_mismatch", "leaf must carry exactly one URI SAN");
  const spiffeId = uris[0]!;
  const parsed = parseSpiffeId(spiffeId);
  if (!parsed) fail("cert_spiffe_mismatch", "leaf URI SAN is not a SPIFFE ID");
  if (parsed.trustDomain !== trustDomain)
    fail("cert_spiffe_mismatch", `leaf is not in trust domain ${trustDomain}`);
  const systemId = systemIdFromSpiffePath(parsed.path);
  if (!systemId) fail("cert_spiffe_mismatch", "leaf SPIFFE ID is not a node ID");
  return { spiffeId, systemId };
}

interface CacheEntry {
  node: VerifiedNode;
  validFrom: number;
  validUntil: number;
}

const CACHE_CAPACITY = 1024;
const cache = new LruCache<string, CacheEntry>(CACHE_CAPACITY);

/** Forget every cached verdict (tests; or after rotating a trust bundle in place). */
export function clearCertificateCache(): void {
  cache.clear();
  caParses.clear();
  caLinks.clear();
}

function copyNode(node: VerifiedNode): VerifiedNode {
  return {
    ...node,
    logicals: [...node.logicals],
    publicKey: node.publicKey.slice(),
    notAfter: new Date(node.notAfter),
  };
}

function finish(entry: CacheEntry, now: Date, expectedSystemId: string | undefined): VerifiedNode {
  // Cached verdicts only skip the signature work; time and the caller's expectation are rechecked.
  if (now.getTime() < entry.validFrom)
    fail("cert_not_yet_valid", "a certificate of the chain is not valid yet");
  if (now.getTime() > entry.validUntil) fail("cert_expired", "a certificate of the chain has expired");
  if (expectedSystemId !== undefined && entry.node.systemId !== expectedSystemId) {
    fail("cert_spiffe_mismatch", `certificate is for ${entry.node.systemId}, expected ${expectedSystemId}`);
  }
  return copyNode(entry.node);
}

/**
 * Verify a node certificate chain against a trust bundle and return the identity it proves.
 * Untrusted input: bounded sizes, every failure a CertificateError with a stable code.
 */
export async function verifyNodeCertificate(opts: VerifyNodeCertificateOptions): Promise<VerifiedNode> {
  const now = opts.now ?? new Date();
  const trustDomain = opts.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  if (!Array.isArray(opts.chain) || opts.chain.length === 0) fail("cert_malformed", "chain is empty");
  if (opts.chain.length > MAX_CHAIN_LENGTH)
    fail("cert_chain_too_long", `chain exceeds ${MAX_CHAIN_LENGTH} certificates`);
  const ders = opts.chain.map((entry, i) => decodeEntry(entry, i));
  const bundle = loadTrustBundle(opts.trustBundlePem);

  const hash = createHash("sha256");
  for (const der of ders) hash.update(`${der.length}:`).update(der);
  const key = `${hash.digest("hex")}|${bundle.digest}|${trustDomain}`;
  const hit = cache.get(key);
  if (hit) return finish(hit, now, opts.expectedSystemId);

  const certs = ders.map((der, i) => (i === 0 ? parseCert(der, "leaf") : parseCaCert(der, `chain[${i}]`)));
  const path = await buildPath(certs, bundle);
  checkValidity(path, now);
  checkExtensionsAndRoles(path);
  checkNameConstraints(path);

  const leaf = path[0]!;
  const { spiffeId, systemId } = leafIdentity(leaf, trustDomain);
  const publicKey = ed25519RawFromSpki(leaf.parts.spki);
  if (!publicKey) fail("cert_unsupported_key", "leaf key must be Ed25519");
  let claims: FameIdentityClaims | null;
  try {
    claims = readFameExtension(leaf.extensions);
  } catch (err) {
    fail("cert_malformed", `leaf FAME extension invalid: ${(err as Error).message}`);
  }
  if (!claims) fail("cert_extension_missing", "leaf lacks the FAME identity extension");
  let principal: string | undefined;
  try {
    principal = readPrincipalExtension(leaf.extensions);
  } catch (err) {
    fail("cert_malformed", `leaf FAME principal extension invalid: ${(err as Error).message}`);
  }
  if (claims.sid !== sidFromPath(claims.path))
    fail("cert_sid_mismatch", "FAME extension sid does not match its path");

  const node: VerifiedNode = {
    systemId,
    sid: claims.sid,
    path: claims.path,
    logicals: claims.logicals,
    ...(principal === undefined ? {} : { principal }),
    spiffeId,
    publicKey,
    notAfter: new Date(Math.min(...path.map((c) => c.cert.notAfter.getTime()))),
    fingerprint: createHash("sha256").update(leaf.der).digest("hex"),
  };
  const entry: CacheEntry = {
    node,
    validFrom: Math.max(...path.map((c) => c.cert.notBefore.getTime())),
    validUntil: node.notAfter.getTime(),
  };
  cache.set(key, entry);
  return finish(entry, now, opts.expectedSystemId);
}
