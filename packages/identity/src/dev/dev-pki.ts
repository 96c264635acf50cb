import { randomBytes } from "node:crypto";
import { isIP } from "node:net";
import { dirname, join, resolve } from "node:path";
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from "jose";
import { PkiConfigError } from "../pki/errors.js";
import {
  ensureMode,
  PUBLIC_MODE,
  readIfPresent,
  SECRET_DIR_MODE,
  SECRET_MODE,
  writeFileAtomic,
} from "../pki/fs-util.js";
import { exportPrivateKeyPem, importPrivateKeyPem, signingAlgorithmFor } from "../pki/keys.js";
import {
  decodeNameConstraints,
  encodeUriNameConstraints,
  OID_NAME_CONSTRAINTS,
} from "../pki/name-constraints.js";
import { DEFAULT_TRUST_DOMAIN, isDnsHost } from "../pki/names.js";
import { decodePemBlocks } from "../pki/pem.js";
import type { CryptoKey, CryptoKeyPair } from "../pki/webcrypto-types.js";
import { x509 } from "../pki/x509.js";

export interface GenerateDevPkiOptions {
  dir: string;
  /** Default "fame.fabric"; the intermediate is name-constrained to it. */
  trustDomain?: string;
  /** Extra DNS names / IPs for the TLS server certificate. */
  serverNames?: string[];
  /** Regenerate everything even if the present files are valid. */
  force?: boolean;
  /**
   * Key type of the TLS server certificate. Default Ed25519 (works with Node/OpenSSL TLS 1.2
   * and 1.3); "ECDSA-P256" for clients without Ed25519 certificate support (browsers).
   */
  tlsKeyAlgorithm?: TlsKeyAlgorithm;
}

export type TlsKeyAlgorithm = "Ed25519" | "ECDSA-P256";

export interface DevPkiResult {
  /** true when any file was (re)written. */
  created: boolean;
  /** Absolute paths by role. */
  files: Record<DevPkiFile, string>;
  /** Roles whose files were (re)written this run. */
  written: DevPkiFile[];
}

export type DevPkiFile =
  | "rootCert"
  | "rootKey"
  | "intermediateCert"
  | "intermediateKey"
  | "trustBundle"
  | "serverCert"
  | "serverKey"
  | "oauth2Clients"
  | "oauth2SigningKey"
  | "welcomeSigningKey"
  | "welcomeNodeIdKey"
  | "adminToken"
  | "devEnv"
  | "agentEnv"
  | "clientEnv";

const LAYOUT: Record<DevPkiFile, string> = {
  rootCert: "root-ca.pem",
  rootKey: "root-ca.key",
  intermediateCert: "intermediate-ca.pem",
  intermediateKey: "intermediate-ca.key",
  trustBundle: "trust-bundle.pem",
  serverCert: "server.pem",
  serverKey: "server.key",
  oauth2Clients: "secrets/oauth2-clients.json",
  oauth2SigningKey: "secrets/oauth2-signing-key.json",
  welcomeSigningKey: "secrets/welcome-signing-key.json",
  /** Welcome's HMAC key for stable systemIds in a cluster (FAME_WELCOME_NODE_ID_KEY_FILE) */
  welcomeNodeIdKey: "secrets/welcome-node-id-key",
  /** the sentinel's operator token (FAME_SENTINEL_ADMIN_TOKEN_FILE): drain, status, metrics */
  adminToken: "secrets/admin-token",
  devEnv: "dev.env",
  agentEnv: "agent.env",
  clientEnv: "client.env",
};

const SECRET_FILES: DevPkiFile[] = [
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

/** Names every dev HTTPS/WSS endpoint may be reached by: loopback plus the compose service names. */
export const DEFAULT_SERVER_NAMES = ["localhost", "127.0.0.1", "::1", "oauth2", "welcome", "ca", "sentinel"];
/**
 * Two OAuth2 clients: agents may serve pools under `*.fame.fabric` (config/policy.yml), clients
 * may only call. `dev.env` holds the client's credentials: least privilege for whatever reads it.
 */
export const DEV_AGENT_CLIENT_ID = "fame-dev-agent";
export const DEV_CLIENT_ID = "fame-dev-client";

const DAY_MS = 24 * 3600 * 1000;
const ROOT_DAYS = 3650;
const INTERMEDIATE_DAYS = 1825;
const SERVER_DAYS = 365;
/** Files closer than this to expiry are treated as invalid and regenerated. */
const RENEW_MARGIN_MS = 7 * DAY_MS;
const TLS_KEY_PARAMS: Record<TlsKeyAlgorithm, { name: string; namedCurve?: string }> = {
  Ed25519: { name: "Ed25519" },
  "ECDSA-P256": { name: "ECDSA", namedCurve: "P-256" },
};

const subtle = globalThis.crypto.subtle;

async function caExtensions(publicKey: CryptoKey, issuerPublicKey: CryptoKey, pathLength?: number) {
  return [
    new x509.BasicConstraintsExtension(true, pathLength, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    await x509.SubjectKeyIdentifierExtension.create(publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(issuerPublicKey),
  ];
}

function randomSerialHex(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b.toString("hex");
}

async function newKeys(alg: { name: string; namedCurve?: string }): Promise<CryptoKeyPair> {
  return (await subtle.generateKey(alg, true, ["sign", "verify"])) as CryptoKeyPair;
}

interface CaMaterial {
  root: x509.X509Certificate;
  rootKey: CryptoKey;
  rootPem: string;
  rootKeyPem: string;
  intermediatePem: string;
  intermediateKeyPem: string;
}

async function createCa(trustDomain: string): Promise<CaMaterial> {
  const now = Date.now();
  const rootKeys = await newKeys({ name: "Ed25519" });
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    name: "CN=FAME Dev Root CA, O=FAME",
    keys: rootKeys,
    serialNumber: randomSerialHex(),
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + ROOT_DAYS * DAY_MS),
    signingAlgorithm: { name: "Ed25519" },
    extensions: await caExtensions(rootKeys.publicKey, rootKeys.publicKey),
  });
  const intKeys = await newKeys({ name: "Ed25519" });
  const intermediate = await x509.X509CertificateGenerator.create({
    subject: "CN=FAME Dev Node CA, O=FAME",
    issuer: root.subject,
    publicKey: intKeys.publicKey,
    signingKey: rootKeys.privateKey,
    serialNumber: randomSerialHex(),
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + INTERMEDIATE_DAYS * DAY_MS),
    signingAlgorithm: { name: "Ed25519" },
    extensions: [
      ...(await caExtensions(intKeys.publicKey, rootKeys.publicKey, 0)),
      // RFC 5280 says CAs MUST mark name constraints critical.
      new x509.Extension(OID_NAME_CONSTRAINTS, true, encodeUriNameConstraints([trustDomain])),
    ],
  });
  return {
    root,
    rootKey: rootKeys.privateKey,
    rootPem: root.toString("pem"),
    rootKeyPem: await exportPrivateKeyPem(rootKeys.privateKey),
    intermediatePem: intermediate.toString("pem"),
    intermediateKeyPem: await exportPrivateKeyPem(intKeys.privateKey),
  };
}

async function createServerCert(
  root: x509.X509Certificate,
  rootKey: CryptoKey,
  names: readonly string[],
  keyAlgorithm: TlsKeyAlgorithm,
): Promise<{ certPem: string; keyPem: string }> {
  const now = Date.now();
  const keys = await newKeys(TLS_KEY_PARAMS[keyAlgorithm]);
  const cert = await x509.X509CertificateGenerator.create({
    subject: "CN=localhost, O=FAME dev services",
    issuer: root.subject,
    publicKey: keys.publicKey,
    signingKey: rootKey,
    serialNumber: randomSerialHex(),
    notBefore: new Date(now - 60_000),
    notAfter: new Date(Math.min(now + SERVER_DAYS * DAY_MS, root.notAfter.getTime())),
    signingAlgorithm: signingAlgorithmFor(rootKey),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([
        x509.ExtendedKeyUsage.serverAuth,
        x509.ExtendedKeyUsage.clientAuth,
      ]),
      new x509.SubjectAlternativeNameExtension(
        names.map((n) => ({ type: isIP(n) ? ("ip" as const) : ("dns" as const), value: n })),
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(root.publicKey),
    ],
  });
  // The root is in the trust bundle and server.pem signs nothing, so the leaf alone is the chain.
  return { certPem: cert.toString("pem"), keyPem: await exportPrivateKeyPem(keys.privateKey) };
}

async function signingJwk(): Promise<string> {
  const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint({ kty: jwk.kty!, crv: jwk.crv!, x: jwk.x! });
  return `${JSON.stringify({ ...jwk, kid, alg: "EdDSA", use: "sig" }, null, 2)}\n`;
}

// ---------------------------------------------------------------------------------------------
// Validity checks of what is already on disk: anything unexpected means "regenerate".

function parseCert(pem: string | null): x509.X509Certificate | null {
  if (!pem) return null;
  try {
    return new x509.X509Certificate(pem);
  } catch {
    return null;
  }
}

function fresh(cert: x509.X509Certificate): boolean {
  const now = Date.now();
  return cert.notBefore.getTime() <= now + 60_000 && cert.notAfter.getTime() - now > RENEW_MARGIN_MS;
}

async function verifiesWith(cert: x509.X509Certificate, issuer: x509.X509Certificate): Promise<boolean> {
  try {
    return await cert.verify({ publicKey: issuer.publicKey, signatureOnly: true });
  } catch {
    return false;
  }
}

/** Does `keyPem` hold the private half of `cert`'s key? Checked by signing and verifying. */
async function keyMatches(cert: x509.X509Certificate, keyPem: string | null): Promise<boolean> {
  if (!keyPem) return false;
  try {
    const key = await importPrivateKeyPem(keyPem);
    const alg =
      key.algorithm.name === "ECDSA" ? { name: "ECDSA", hash: "SHA-256" } : { name: key.algorithm.name };
    const probe = randomBytes(32);
    const sig = await subtle.sign(alg, key, probe);
    const pub = await cert.publicKey.export(
      key.algorithm.name === "ECDSA" ? { name: "ECDSA", namedCurve: "P-256" } : { name: key.algorithm.name },
      ["verify"],
    );
    return await subtle.verify(alg, pub, sig, probe);
  } catch {
    return false;
  }
}

function constrainedTo(cert: x509.X509Certificate, trustDomain: string): boolean {
  const ext = cert.extensions.find((e) => e.type === OID_NAME_CONSTRAINTS);
  if (!ext) return false;
  try {
    const nc = decodeNameConstraints(new Uint8Array(ext.value));
    return nc.permittedUris.length === 1 && nc.permittedUris[0] === trustDomain;
  } catch {
    return false;
  }
}

/** Lowercase DNS names; IPv6 in its compressed form so "::1" and "0:0:0:0:0:0:0:1" compare equal. */
function canonicalName(name: string): string {
  if (isIP(name) === 6) return new URL(`http://[${name}]/`).hostname;
  return name.toLowerCase();
}

function coversNames(cert: x509.X509Certificate, names: readonly string[]): boolean {
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  if (!san) return false;
  const have = new Set(san.names.items.map((n) => canonicalName(n.value)));
  return names.every((n) => have.has(canonicalName(n)));
}

function bundleHolds(bundlePem: string, der: Uint8Array): boolean {
  try {
    return decodePemBlocks(bundlePem, "CERTIFICATE", 64, false).some((b) => Buffer.from(b).equals(der));
  } catch {
    return false;
  }
}

interface ExistingCa {
  root: x509.X509Certificate;
  rootKeyPem: string;
}

async function existingCa(
  paths: Record<DevPkiFile, string>,
  trustDomain: string,
): Promise<ExistingCa | null> {
  const rootPem = await readIfPresent(paths.rootCert);
  const rootKeyPem = await readIfPresent(paths.rootKey);
  const intPem = await readIfPresent(paths.intermediateCert);
  const intKeyPem = await readIfPresent(paths.intermediateKey);
  const bundlePem = await readIfPresent(paths.trustBundle);
  const root = parseCert(rootPem);
  const intermediate = parseCert(intPem);
  if (!root || !intermediate || !rootKeyPem || !bundlePem) return null;
  if (!fresh(root) || !fresh(intermediate)) return null;
  if (!(await verifiesWith(root, root)) || !(await verifiesWith(intermediate, root))) return null;
  if (!constrainedTo(intermediate, trustDomain)) return null;
  if (!(await keyMatches(root, rootKeyPem)) || !(await keyMatches(intermediate, intKeyPem))) return null;
  if (!bundleHolds(bundlePem, new Uint8Array(root.rawData))) return null;
  return { root, rootKeyPem };
}

async function existingServerValid(
  paths: Record<DevPkiFile, string>,
  root: x509.X509Certificate,
  names: readonly string[],
  keyAlgorithm: TlsKeyAlgorithm,
): Promise<boolean> {
  const cert = parseCert(await readIfPresent(paths.serverCert));
  if (!cert || !fresh(cert) || !(await verifiesWith(cert, root)) || !coversNames(cert, names)) return false;
  if (cert.publicKey.algorithm.name !== TLS_KEY_PARAMS[keyAlgorithm].name) return false;
  return keyMatches(cert, await readIfPresent(paths.serverKey));
}

function parseJson(text: string | null): unknown {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

type DevClient = { client_id: string; client_secret: string };

function devClient(text: string | null, clientId: string): DevClient | null {
  const doc = parseJson(text) as { clients?: unknown } | null;
  if (!doc || !Array.isArray(doc.clients)) return null;
  const c = doc.clients.find((x: { client_id?: unknown }) => x?.client_id === clientId) as
    | { client_id: string; client_secret?: unknown }
    | undefined;
  if (!c || typeof c.client_secret !== "string" || c.client_secret.length < 32) return null;
  return { client_id: c.client_id, client_secret: c.client_secret };
}

function signingKeyValid(text: string | null): boolean {
  const jwk = parseJson(text) as Record<string, unknown> | null;
  return (
    !!jwk &&
    jwk["kty"] === "OKP" &&
    jwk["crv"] === "Ed25519" &&
    jwk["alg"] === "EdDSA" &&
    typeof jwk["d"] === "string" &&
    typeof jwk["x"] === "string" &&
    typeof jwk["kid"] === "string"
  );
}

function devEnvText(client: DevClient, what: string): string {
  return [
    `# Development admission credentials: ${what} (generated by scripts/setup-pki.mjs). Keep private.`,
    `FAME_ADMISSION_CLIENT_ID=${client.client_id}`,
    `FAME_ADMISSION_CLIENT_SECRET=${client.client_secret}`,
    "",
  ].join("\n");
}

function validateServerNames(names: readonly string[]): string[] {
  const out: string[] = [];
  for (const raw of names) {
    const n = raw.trim().toLowerCase();
    if (!isIP(n) && !isDnsHost(n)) throw new PkiConfigError(`invalid server name: ${raw}`);
    if (!out.includes(n)) out.push(n);
  }
  return out;
}

/**
 * Create (or keep) the development PKI and secrets under `dir`. Idempotent: valid, fresh files
 * are left untouched; only missing/invalid groups (CA, TLS server, each secret) are rewritten.
 * Regenerating the CA also regenerates the server certificate.
 */
export async function generateDevPki(opts: GenerateDevPkiOptions): Promise<DevPkiResult> {
  const dir = resolve(opts.dir);
  const trustDomain = opts.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  if (!isDnsHost(trustDomain)) throw new PkiConfigError(`invalid trust domain: ${trustDomain}`);
  const names = validateServerNames([...DEFAULT_SERVER_NAMES, ...(opts.serverNames ?? [])]);
  const files = Object.fromEntries(Object.entries(LAYOUT).map(([k, v]) => [k, join(dir, v)])) as Record<
    DevPkiFile,
    string
  >;
  const written: DevPkiFile[] = [];
  const write = async (role: DevPkiFile, content: string) => {
    await writeFileAtomic(files[role], content, SECRET_FILES.includes(role) ? SECRET_MODE : PUBLIC_MODE);
    written.push(role);
  };

  let ca = opts.force ? null : await existingCa(files, trustDomain);
  let caCreated = false;
  if (!ca) {
    const m = await createCa(trustDomain);
    await write("rootKey", m.rootKeyPem);
    await write("rootCert", m.rootPem);
    await write("intermediateKey", m.intermediateKeyPem);
    await write("intermediateCert", m.intermediatePem);
    await write("trustBundle", m.rootPem);
    ca = { root: m.root, rootKeyPem: m.rootKeyPem };
    caCreated = true;
  }
  const tlsKey = opts.tlsKeyAlgorithm ?? "Ed25519";
  if (!(tlsKey in TLS_KEY_PARAMS)) throw new PkiConfigError(`unsupported TLS key algorithm: ${tlsKey}`);
  if (caCreated || opts.force || !(await existingServerValid(files, ca.root, names, tlsKey))) {
    const rootKey = await importPrivateKeyPem(ca.rootKeyPem);
    const server = await createServerCert(ca.root, rootKey, names, tlsKey);
    await write("serverKey", server.keyPem);
    await write("serverCert", server.certPem);
  }

  const clientsText = opts.force ? null : await readIfPresent(files.oauth2Clients);
  let agent = devClient(clientsText, DEV_AGENT_CLIENT_ID);
  let client = devClient(clientsText, DEV_CLIENT_ID);
  if (!agent || !client) {
    const secret = () => randomBytes(32).toString("base64url");
    agent = { client_id: DEV_AGENT_CLIENT_ID, client_secret: secret() };
    client = { client_id: DEV_CLIENT_ID, client_secret: secret() };
    const doc = { clients: [agent, client].map((c) => ({ ...c, scopes: ["node.connect"] })) };
    await write("oauth2Clients", `${JSON.stringify(doc, null, 2)}\n`);
  }
  // Only the sentinel and the operator's tools read this file; nodes never get it (no *.env has it).
  const adminToken = (await readIfPresent(files.adminToken))?.trim() ?? "";
  if (opts.force || !/^[A-Za-z0-9_-]{32,}$/.test(adminToken))
    await write("adminToken", `${randomBytes(32).toString("base64url")}\n`);
  // Kept across runs like the signing keys: a new key gives every node a new systemId.
  const nodeIdKey = (await readIfPresent(files.welcomeNodeIdKey))?.trim() ?? "";
  if (opts.force || !/^[A-Za-z0-9_-]{43,}$/.test(nodeIdKey))
    await write("welcomeNodeIdKey", `${randomBytes(32).toString("base64url")}\n`);
  for (const role of ["oauth2SigningKey", "welcomeSigningKey"] as const) {
    if (opts.force || !signingKeyValid(await readIfPresent(files[role])))
      await write(role, await signingJwk());
  }
  const envFiles = [
    ["agentEnv", devEnvText(agent, "an agent (may serve pools and call)")],
    ["clientEnv", devEnvText(client, "a client (may call only)")],
    ["devEnv", devEnvText(client, "a client (may call only; agents use agent.env)")],
  ] as const;
  for (const [role, text] of envFiles)
    if ((await readIfPresent(files[role])) !== text) await write(role, text);

  await Promise.all(SECRET_FILES.map((role) => ensureMode(files[role], SECRET_MODE)));
  await ensureMode(dirname(files.oauth2Clients), SECRET_DIR_MODE);
  return { created: written.length > 0, files, written };
}
